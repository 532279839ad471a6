-- Whether a rolled-up day was computed into `daily_filtered` too: 1 for days
-- rolled up since 0006, 0 (the default) for days rolled up before it, which
-- the rollup computes again and filtered reports read from `events` until
-- then. Run once, through the schema_migrations ledger (ClickHouse 18.16
-- has no ADD COLUMN IF NOT EXISTS).
ALTER TABLE daily_stats_days ADD COLUMN filtered UInt8;
