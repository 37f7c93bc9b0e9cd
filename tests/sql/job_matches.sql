-- spool.job_matches and spool.capability_satisfies: the emp matching rules one by one.
BEGIN;
SELECT plan(26);
-- hardware minimums
SELECT ok(spool.job_matches('{"hardware":{"gpu_memory_gb":24}}', NULL, NULL, '{"hardware":{"gpu_memory_gb":48}}'), 'gpu memory above minimum');
SELECT ok(NOT spool.job_matches('{"hardware":{"gpu_memory_gb":24}}', NULL, NULL, '{"hardware":{"gpu_memory_gb":16}}'), 'gpu memory below minimum');
SELECT ok(NOT spool.job_matches('{"hardware":{"cpu_cores":8}}', NULL, NULL, '{"hardware":{}}'), 'missing cpu_cores fails');
SELECT ok(spool.job_matches('{"hardware":{"ram_gb":"all"}}', NULL, NULL, '{}'), '"all" matches anything');
SELECT ok(spool.job_matches('{"hardware":{"ram_gb":32,"cpu_cores":8}}', NULL, NULL, '{"hardware":{"ram_gb":32,"cpu_cores":16}}'), 'all minimums met');
-- models
SELECT ok(spool.job_matches('{"models":["sdxl","flux"]}', 'comfyui', NULL, '{"models":{"comfyui":["sdxl","flux","sd15"]}}'), 'all models present');
SELECT ok(NOT spool.job_matches('{"models":["sdxl","flux"]}', 'comfyui', NULL, '{"models":{"comfyui":["sdxl"]}}'), 'a missing model fails');
SELECT ok(NOT spool.job_matches('{"models":["sdxl"]}', 'comfyui', NULL, '{"models":{"a1111":["sdxl"]}}'), 'models of another service do not count');
-- customer isolation
SELECT ok(NOT spool.job_matches('{"customer_isolation":"strict"}', NULL, 'c1', '{"customer_access":{"isolation":"loose"}}'), 'strict needs a strict worker');
SELECT ok(spool.job_matches('{"customer_isolation":"strict"}', NULL, 'c1', '{"customer_access":{"isolation":"strict"}}'), 'strict worker takes strict job');
SELECT ok(spool.job_matches(NULL, NULL, 'c1', '{"customer_access":{"allowed_customers":["c1","c2"]}}'), 'allowed customer');
SELECT ok(NOT spool.job_matches(NULL, NULL, 'c3', '{"customer_access":{"allowed_customers":["c1","c2"]}}'), 'customer not in allow-list');
SELECT ok(NOT spool.job_matches(NULL, NULL, 'c9', '{"customer_access":{"denied_customers":["c9"]}}'), 'denied customer');
SELECT ok(spool.job_matches(NULL, NULL, 'c8', '{"customer_access":{"denied_customers":["c9"]}}'), 'customer not denied');
-- other keys
SELECT ok(spool.job_matches('{"features":["upscale","inpaint"]}', NULL, NULL, '{"features":["inpaint","upscale","x"]}'), 'array requirement: contains all');
SELECT ok(NOT spool.job_matches('{"features":["upscale","inpaint"]}', NULL, NULL, '{"features":["inpaint"]}'), 'array requirement: one missing');
SELECT ok(spool.job_matches('{"quality_levels":"fast"}', NULL, NULL, '{"quality_levels":["fast","slow"]}'), 'scalar against worker array');
SELECT ok(spool.job_matches('{"max_batch_size":4}', NULL, NULL, '{"max_batch_size":8}'), 'number: worker >= required');
SELECT ok(NOT spool.job_matches('{"max_batch_size":16}', NULL, NULL, '{"max_batch_size":8}'), 'number: worker below');
SELECT ok(spool.job_matches('{"sla_tier":"gold"}', NULL, NULL, '{"sla_tier":"gold"}'), 'string equal');
SELECT ok(NOT spool.job_matches('{"sla_tier":"gold"}', NULL, NULL, '{}'), 'missing capability fails');
SELECT ok(spool.job_matches('{"location.region":"eu"}', NULL, NULL, '{"location":{"region":"eu"}}'), 'dotted path key');
SELECT ok(spool.job_matches('{"location":{"region":"eu","compliance_zones":["gdpr"]}}', NULL, NULL, '{"location":{"region":"eu","compliance_zones":["gdpr","soc2"]}}'), 'nested object per sub-key');
-- negative and positive sets
SELECT ok(NOT spool.job_matches('{"negative_requirements":{"hardware":{"gpu_model":"T4"}}}', NULL, NULL, '{"hardware":{"gpu_model":"T4"}}'), 'negative hardware excludes');
SELECT ok(NOT spool.job_matches('{"negative_requirements":{"experimental_mode":true}}', NULL, NULL, '{"experimental_mode":true}'), 'negative custom key excludes');
SELECT ok(spool.job_matches('{"positive_requirements":{"hardware":{"gpu_memory_gb":8}},"negative_requirements":{"sla_tier":"bronze"}}', NULL, NULL, '{"hardware":{"gpu_memory_gb":8},"sla_tier":"gold"}'), 'positive_requirements wrapper');
SELECT * FROM finish();
ROLLBACK;
