-- Filtered daily rollups: `daily_stats` computed again over only the events
-- whose filter dimension has one value, for every value of each dimension
-- the dashboard filters by (report::sql::FILTERED_DIMENSIONS), so a report
-- with one `dimension==value` filter reads finished numbers instead of
-- scanning `events`. Visitor ids change every UTC day, so within any subset
-- of events too the unique visitors of whole UTC days are the sum of each
-- day's exact count. Computed with `daily_stats`, replaced by key the same
-- way; read with FINAL. Aggregates only: no visitor id.
--
-- One row per (site, UTC day, filter dimension, filter value, dimension,
-- value), with the dimensions and columns of `daily_stats` (including its
-- totals, entry pages and hour rows) over the events that match the filter.
-- The key starts with the filter, so a filtered report reads its own rows.
CREATE TABLE IF NOT EXISTS daily_filtered
(
    site             String,
    day              Date,
    filter_dimension String,
    filter_value     String,
    dimension        String,
    value            String,
    visitors         UInt64,
    hits             UInt64,
    visits           UInt64,
    bounces          UInt64,
    visit_views      UInt64,
    computed_at      DateTime('UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (site, filter_dimension, filter_value, dimension, day, value);
