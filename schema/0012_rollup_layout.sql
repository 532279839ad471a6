-- How the rollup laid out a day's rows (`report::sql::ROLLUP_LAYOUT`). 0
-- (the default) for days rolled up with `first_hour`, `last_hour`,
-- `prefix_views` and `suffix_views` rows for every hour of every row's
-- group; layout 1 keeps the `hour` rows and adds a row only where a prefix
-- or a suffix of the day counts less than its hours (`prefix_excess`,
-- `suffix_excess`). The rollup computes the older days again, and reports
-- read them from `events` until then. Run once, through the
-- schema_migrations ledger.
ALTER TABLE daily_stats_days ADD COLUMN layout UInt8;
