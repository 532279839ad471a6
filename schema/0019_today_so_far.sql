-- Today so far: `beaconhouse serve` rolls up the current UTC day from its
-- midnight to the last hour that has ended (and settled) into daily_stats,
-- daily_goals and daily_funnels (not daily_filtered), again each time
-- another hour ends, and records the day here with `counted_until`, the
-- instant its rows count up to (0, as on every older row: the whole day).
-- A report whose window ends at that instant reads the day from the
-- rollup, as it reads a whole day; the daily rollup computes the day whole
-- once it has ended, which replaces these rows. Run once, through the
-- schema_migrations ledger.
ALTER TABLE daily_stats_days ADD COLUMN counted_until UInt32;
