-- Daily rollups that the reports read instead of scanning every event.
--
-- Visitor ids change every UTC day, so the unique visitors of any set of
-- whole UTC days are the sum of each day's exact count: a rollup can keep
-- finished numbers, not sketches. `beaconhouse serve` (or `beaconhouse
-- rollup`) computes a day once it has ended and again whenever its number of
-- events changes (hits delivered late from a spool). Recomputed rows replace
-- the old ones by key; read them with FINAL.

-- One row per (site, UTC day, dimension, value):
--   dimension ''            : all events; hits = page views, visits, bounces
--                             (visits of one page view), visit_views
--   path, referrer_host, utm_*, country, region, city, browser, os, device:
--                             page views with that value; hits = page views
--   'pageview_total'        : every page view (the total of those breakdowns)
--   'name', 'event_total'   : custom events by name, and all of them
--   'entry_page', 'entry_total': visits by first page; hits = visits
CREATE TABLE IF NOT EXISTS daily_stats
(
    site        String,
    day         Date,
    dimension   String,
    value       String,
    visitors    UInt64,
    hits        UInt64,
    visits      UInt64,
    bounces     UInt64,
    visit_views UInt64,
    computed_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (site, dimension, day, value);

-- Which days daily_stats holds, and how many events each day had when it was
-- computed: a day whose count in `events` differs is computed again.
CREATE TABLE IF NOT EXISTS daily_stats_days
(
    day         Date,
    events      UInt64,
    computed_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
ORDER BY day;
