-- One row per accepted page view or custom event (see README "Tables").
-- No column may ever hold an IP address, a full user agent, or a query string
-- other than the utm_* values.
CREATE TABLE IF NOT EXISTS events
(
    site          String,
    ts            DateTime('UTC'),
    name          String,
    visitor_id    UInt64,
    path          String,
    title         String,
    referrer_host String,
    utm_source    String,
    utm_medium    String,
    utm_campaign  String,
    utm_term      String,
    utm_content   String,
    country       String,
    region        String,
    city          String,
    browser       String,
    os            String,
    device        Enum8('desktop' = 1, 'mobile' = 2, 'tablet' = 3, 'other' = 4),
    -- Random per row: lets a retried batch skip rows ClickHouse already has.
    event_id      UInt64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (site, toDate(ts), visitor_id, ts);
