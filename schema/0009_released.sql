-- What staff SQL reads: released figures only, in a database of their own
-- (`released.` stands for `<clickhouse.database>_released`, which `migrate`
-- creates), so that a staff user can be given that database and nothing
-- else, on ClickHouse 18.16 (users.xml's <allow_databases>) as on current
-- releases (GRANT SELECT ON <database>_released.*).
--
-- One row per (site, UTC day, dimension, value) whose released visitors
-- reach `reporting.min_group_size`, written by the rollup (README, "Tables
-- (for SQL)"): visitors and page views, each the exact count plus noise
-- drawn for that cell under `reporting.noise_key` (the same noise every time
-- the day is computed), page views counting at most
-- `reporting.max_views_per_visitor_day` per visitor. A withheld cell has no
-- row. Late hits only add, so a released row is only ever replaced by a
-- larger one; read with FINAL.
--   dimension ''  : every visitor with a page view, and every page view
--   path, referrer_host, utm_source, utm_medium, utm_campaign, country,
--   region, city, browser, os, device: page views with that value
--   name          : custom events by name (pageviews counts the events)
CREATE TABLE IF NOT EXISTS released.daily
(
    site        String,
    day         Date,
    dimension   String,
    value       String,
    visitors    UInt64,
    pageviews   UInt64,
    computed_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (site, dimension, day, value);

-- Which days `released.daily` holds, with the events count each was
-- computed from: a day whose count in `events` differs is released again.
-- In the raw database: it names nothing staff need.
CREATE TABLE IF NOT EXISTS released_days
(
    day         Date,
    events      UInt64,
    computed_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
ORDER BY day;
