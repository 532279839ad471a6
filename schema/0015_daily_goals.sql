-- Goals rolled up: per site, UTC day and goal (by its definition,
-- `goal::Target::definition`, e.g. `page:/blog/*`), the visitors who reached
-- it that day and their conversions, each visitor counting for at most
-- `views_cap` of them (the cap the row was counted with). A goal's figure
-- over whole days is the sum of its rows: visitor ids change daily. Written
-- by the rollup with each day's `daily_stats`, and for the days already
-- rolled up when a goal is added to the configuration; read with FINAL, for
-- the days `daily_stats_days` holds under the same cap. Aggregates only.
CREATE TABLE IF NOT EXISTS daily_goals
(
    site        String,
    day         Date,
    goal        String,
    visitors    UInt64,
    hits        UInt64,
    views_cap   UInt16,
    computed_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (site, goal, day);
