-- Funnels rolled up: per site, UTC day and funnel (by its steps'
-- definitions, `goal::steps_definition`), the visitors whose events of the
-- day reached `level` steps in order (`windowFunnel`), for each level from
-- 1; the row of level 0 (visitors with an event of a step but not the
-- first in order, possibly none) says the day was counted. A funnel's
-- figure over whole days is the sum of its rows: visitor ids change daily.
-- Written by the rollup with each day's `daily_stats`, and for the days
-- already rolled up when a funnel is added; read with FINAL for the days
-- `daily_stats_days` holds. Aggregates only.
CREATE TABLE IF NOT EXISTS daily_funnels
(
    site        String,
    day         Date,
    funnel      String,
    level       UInt8,
    visitors    UInt64,
    computed_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (site, funnel, day, level);
