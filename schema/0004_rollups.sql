-- Hourly rollups that the reports read instead of scanning every event.
-- Each is a materialized view: ClickHouse adds to it on every insert into the
-- source table. POPULATE fills it from the events already stored when the
-- migration runs; hits inserted during that statement may miss the rollup (not
-- the source table), so upgrade with the collectors stopped (README, "Reports").
--
-- Unique counts are uniqState (approximate: exact for small groups, within
-- about 2% for large ones; README, "Reports"); uniqState merges across hours,
-- and visitor ids rotate daily, so a period's visitors count each person once
-- per UTC day.

-- One row per (site, UTC hour, event name, dimension, value). The dimension ''
-- with value '' holds the site's totals.
CREATE MATERIALIZED VIEW IF NOT EXISTS events_hourly
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (site, dimension, hour, name, value)
POPULATE
AS SELECT
    site,
    toStartOfHour(ts) AS hour,
    name,
    tupleElement(dim, 1) AS dimension,
    tupleElement(dim, 2) AS value,
    countState() AS hits,
    uniqState(visitor_id) AS visitors
FROM events
ARRAY JOIN [
    tuple('', ''),
    tuple('path', path),
    tuple('referrer_host', referrer_host),
    tuple('utm_source', utm_source),
    tuple('utm_medium', utm_medium),
    tuple('utm_campaign', utm_campaign),
    tuple('country', country),
    tuple('region', region),
    tuple('city', city),
    tuple('browser', browser),
    tuple('os', os),
    tuple('device', toString(device)),
    tuple('name', name)
] AS dim
GROUP BY site, hour, name, dimension, value;

-- One row per (campaign, UTC hour, proxied, client, country). Recipient counts
-- are exact (uniqExact): campaigns are small next to page views.
CREATE MATERIALIZED VIEW IF NOT EXISTS email_opens_hourly
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (campaign, hour, proxied, client, country)
POPULATE
AS SELECT
    campaign,
    toStartOfHour(ts) AS hour,
    proxied,
    client,
    country,
    countState() AS opens,
    uniqExactState(recipient_id) AS recipients
FROM email_opens
GROUP BY campaign, hour, proxied, client, country;
