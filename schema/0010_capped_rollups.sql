-- The per-visitor cap the rollup counted a day's page views, events, visits
-- and bounces with (`reporting.max_views_per_visitor_day`): the release
-- step's noise is scaled to it. 0 (the default) for days rolled up before
-- counts were capped; the rollup computes those again, and reports read
-- them from `events` until then. Run once, through the schema_migrations
-- ledger (ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS).
ALTER TABLE daily_stats_days ADD COLUMN views_cap UInt16;
