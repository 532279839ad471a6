-- A site's day from its local midnight: for a site whose time zone's
-- midnight falls inside a UTC day (America/Denver: 07:00 or 06:00 UTC),
-- `beaconhouse serve` rolls up the part of today and of yesterday from that
-- midnight, to the last hour that has ended and settled (or the UTC day's
-- end), each time another hour ends. A report over the site's "today" (or
-- any period that starts at that midnight) then reads the part's rows, as
-- it reads a whole day's, instead of every hit since the midnight. The
-- rows are those the daily rollup writes for the events of the part, in the
-- same dimensions (`0004_rollups.sql`, `0015_daily_goals.sql`,
-- `0017_daily_funnels.sql`), keyed also by `counted_from`, the instant the
-- part starts at. Recomputed rows replace the old ones by key; read them
-- with FINAL. Aggregates only: no visitor id.
CREATE TABLE IF NOT EXISTS local_stats
(
    site         String,
    day          Date,
    counted_from UInt32,
    dimension    String,
    value        String,
    visitors     UInt64,
    hits         UInt64,
    visits       UInt64,
    bounces      UInt64,
    visit_views  UInt64,
    computed_at  DateTime('UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (site, dimension, day, counted_from, value);

CREATE TABLE IF NOT EXISTS local_goals
(
    site         String,
    day          Date,
    counted_from UInt32,
    goal         String,
    visitors     UInt64,
    hits         UInt64,
    views_cap    UInt16,
    computed_at  DateTime('UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (site, goal, day, counted_from);

CREATE TABLE IF NOT EXISTS local_funnels
(
    site         String,
    day          Date,
    counted_from UInt32,
    funnel       String,
    level        UInt8,
    visitors     UInt64,
    computed_at  DateTime('UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (site, funnel, day, counted_from, level);

-- Which parts the tables hold: per site, UTC day and `counted_from`, the
-- instant the rows count up to, how many of the site's events the part had
-- then, the cap and layout it was counted with (as `daily_stats_days`), and
-- `conversions`, the site's goals and funnels it counted
-- (`goal::conversions_definition`). A report reads a part only when all of
-- them are current; the rollup computes it again otherwise.
CREATE TABLE IF NOT EXISTS local_days
(
    site          String,
    day           Date,
    counted_from  UInt32,
    counted_until UInt32,
    events        UInt64,
    views_cap     UInt16,
    layout        UInt8,
    conversions   String,
    computed_at   DateTime('UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
ORDER BY (site, day, counted_from);
