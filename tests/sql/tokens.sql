-- API tokens: spool.token_create, token_lookup, token_revoke, token_list.
-- now() is fixed inside this transaction, so last_used_at is moved by hand to test the
-- once-a-minute refresh.
BEGIN;
SELECT plan(29);
DELETE FROM spool.api_tokens;

-- token_create
CREATE TEMP TABLE t1 AS
    SELECT spool.token_create('ops', 'admin', NULL, repeat('a1', 32)) AS id;
SELECT isnt((SELECT id FROM t1), NULL, 'token_create returns the new id');
SELECT is((SELECT name || '/' || role || '/' || coalesce(tenant, '-') || '/' || token_hash
             FROM spool.api_tokens WHERE id = (SELECT id FROM t1)),
          'ops/admin/-/' || repeat('a1', 32), 'the row holds name, role, no tenant and the hash');
SELECT is((SELECT last_used_at FROM spool.api_tokens WHERE id = (SELECT id FROM t1)), NULL,
          'a new token has never been used');
SELECT lives_ok($$SELECT spool.token_create(NULL, 'worker', NULL, repeat('b2', 32))$$,
                'a name is optional');
SELECT lives_ok($$SELECT spool.token_create('acme-app', 'client', 'acme', repeat('c3', 32))$$,
                'a client token bound to a tenant');
SELECT throws_ok($$SELECT spool.token_create('x', 'root', NULL, repeat('d4', 32))$$,
                 'SP422', 'role must be admin, client or worker, not ''root''', 'unknown role');
SELECT throws_ok($$SELECT spool.token_create('x', NULL, NULL, repeat('d4', 32))$$,
                 'SP422', NULL, 'missing role');
SELECT throws_ok($$SELECT spool.token_create('x', 'Admin', NULL, repeat('d4', 32))$$,
                 'SP422', NULL, 'roles are lowercase');
SELECT throws_ok($$SELECT spool.token_create('x', 'admin', NULL, upper(repeat('d4', 32)))$$,
                 'SP422', 'token_hash must be 64 lowercase hex digits', 'uppercase hex refused');
SELECT throws_ok($$SELECT spool.token_create('x', 'admin', NULL, repeat('d4', 31))$$,
                 'SP422', NULL, 'a short hash is refused');
SELECT throws_ok($$SELECT spool.token_create('', 'admin', NULL, repeat('d4', 32))$$,
                 'SP422', 'name must be 1 to 200 characters', 'an empty name is refused');
SELECT throws_ok($$SELECT spool.token_create('x', 'client', '', repeat('d4', 32))$$,
                 'SP422', 'tenant must be 1 to 200 characters', 'an empty tenant is refused');
SELECT throws_ok($$SELECT spool.token_create('dup', 'admin', NULL, repeat('a1', 32))$$,
                 '23505', NULL, 'a hash is stored once');

-- token_lookup
SELECT is((SELECT name || '/' || role || '/' || tenant FROM spool.token_lookup(repeat('c3', 32))),
          'acme-app/client/acme', 'lookup by hash returns name, role and tenant');
SELECT is((SELECT id FROM spool.token_lookup(repeat('a1', 32))), (SELECT id FROM t1),
          'lookup returns the id');
SELECT is((SELECT last_used_at FROM spool.api_tokens WHERE id = (SELECT id FROM t1)), now(),
          'a lookup records last_used_at');
UPDATE spool.api_tokens SET last_used_at = now() - interval '30 seconds' WHERE id = (SELECT id FROM t1);
SELECT is((SELECT count(*)::int FROM spool.token_lookup(repeat('a1', 32))), 1, 'found again');
SELECT is((SELECT last_used_at FROM spool.api_tokens WHERE id = (SELECT id FROM t1)),
          now() - interval '30 seconds', 'last_used_at is not rewritten within a minute');
UPDATE spool.api_tokens SET last_used_at = now() - interval '61 seconds' WHERE id = (SELECT id FROM t1);
SELECT is((SELECT count(*)::int FROM spool.token_lookup(repeat('a1', 32))), 1, 'found a minute later');
SELECT is((SELECT last_used_at FROM spool.api_tokens WHERE id = (SELECT id FROM t1)), now(),
          'last_used_at is rewritten after a minute');
SELECT is((SELECT count(*)::int FROM spool.token_lookup(repeat('ee', 32))), 0,
          'an unknown hash finds nothing');

-- token_revoke
SELECT is((SELECT array_agg(r) FROM spool.token_revoke(upper((SELECT id FROM t1)::text)) r),
          ARRAY[(SELECT id FROM t1)], 'revoke by id (any case) returns the id');
SELECT is((SELECT count(*)::int FROM spool.token_lookup(repeat('a1', 32))), 0,
          'a revoked token is not found');
SELECT throws_ok(format('SELECT spool.token_revoke(%L)', (SELECT id FROM t1)),
                 'SP404', NULL, 'revoking a revoked token is SP404');
DO $$ BEGIN
    PERFORM spool.token_create('twin', 'client', NULL, repeat('f1', 32));
    PERFORM spool.token_create('twin', 'client', NULL, repeat('f2', 32));
END $$;
SELECT is((SELECT count(*)::int FROM spool.token_revoke('twin')), 2,
          'revoke by name revokes every live token of that name');
SELECT throws_ok($$SELECT spool.token_revoke('------------------------------------')$$,
                 'SP404', 'no live token with id or name ''------------------------------------''',
                 'a name shaped almost like a UUID is a name, not a cast error');

-- token_list
SELECT is((SELECT count(*)::int FROM spool.token_list()), 5, 'token_list shows every token, revoked too');
SELECT ok((SELECT bool_and(NOT (to_jsonb(l) ? 'token_hash')) FROM spool.token_list() l),
          'token_list never returns hashes');
SELECT is((SELECT array_agg(name ORDER BY name) FROM spool.token_list() WHERE revoked_at IS NOT NULL),
          ARRAY['ops', 'twin', 'twin'], 'token_list shows which are revoked');

SELECT * FROM finish();
ROLLBACK;
