-- Event properties (`[[sites]] props`, `enrich::props`): the keys a site
-- allows, scrubbed and bounded, as two parallel arrays: `prop_values[i]` is
-- the value of `prop_keys[i]`, keys in order and each once. Parallel arrays
-- rather than `Map`, which ClickHouse 18.16 lacks; a report reads one key's
-- value as `prop_values[indexOf(prop_keys, key)]` ('' where it is missing).
-- Rows stored before hold none. Run once, through the schema_migrations
-- ledger (ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS).
ALTER TABLE events ADD COLUMN prop_keys Array(String), ADD COLUMN prop_values Array(String);
