/*
 * sp_migrate: brings a database's spool schema up to the SQL embedded in the binary.
 *
 * sp_migrate_run works in one transaction under pg_advisory_xact_lock(1397772111, 0), so
 * concurrent runs queue up and a failure changes nothing. Migrations (sql/migrations) run
 * once, in name order, and must never change afterwards: a recorded migration whose
 * checksum differs stops the run. Function files (sql/functions) are re-applied whenever
 * their checksum changes. Checksums are sha256 hex computed by the server and recorded in
 * spool.schema_migrations.
 */
#ifndef SP_MIGRATE_H
#define SP_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>

#include "sp_db.h"
#include "sp_err.h"
#include "sp_sql_bundle.h"

/* The advisory lock key pair ("SPOO" as an integer, 0). */
#define SP_MIGRATE_LOCK_KEY1 1397772111
#define SP_MIGRATE_LOCK_KEY2 0

typedef struct {
    const char *name; /* borrowed from the SQL bundle (static) */
    const char *kind; /* "migration" or "function" */
} sp_migrate_entry;

typedef struct {
    sp_migrate_entry *applied; /* owned; free with sp_migrate_report_clear */
    size_t napplied;
} sp_migrate_report;

typedef struct {
    size_t total;   /* files in the bundle */
    size_t pending; /* not yet recorded, or a function whose checksum differs */
    size_t edited;  /* migrations whose recorded checksum differs */
    bool ready;     /* pending == 0 && edited == 0 */
} sp_migrate_state;

/*
 * Applies the embedded SQL. On success report lists what was applied (empty when the
 * database was up to date). On failure err holds a message such as "migration
 * 0001_init.sql has been edited since it was applied (checksum differs)" or "could not
 * apply 0002_x.sql: <server message>"; for SP_E_DB the server's detail is in
 * sp_db_err_detail(db).
 */
SP_MUSTCHECK int sp_migrate_run(sp_db *db, sp_migrate_report *report, char *err, size_t errlen);

/* The same with explicit file lists (tests). */
SP_MUSTCHECK int sp_migrate_run_files(sp_db *db, const sp_sql_file *migrations, size_t nmigrations,
                                      const sp_sql_file *functions, size_t nfunctions,
                                      sp_migrate_report *report, char *err, size_t errlen);

void sp_migrate_report_clear(sp_migrate_report *report);

/* Compares the database with the embedded SQL without changing anything (readiness). */
SP_MUSTCHECK int sp_migrate_status(sp_db *db, sp_migrate_state *state, char *err, size_t errlen);

#endif
