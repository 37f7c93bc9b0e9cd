/*
 * wrk_registry: the connectors built into spool-worker, by service name.
 */
#ifndef WRK_REGISTRY_H
#define WRK_REGISTRY_H

#include "wrk_connector.h"

/* The connector serving name, or NULL when spool-worker has none built in. */
const wrk_connector_ops *wrk_registry_find(const char *name);

#endif
