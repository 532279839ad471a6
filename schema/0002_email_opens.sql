-- One row per accepted email open. recipient_id is a keyed hash scoped to the
-- campaign; the raw recipient token is never stored.
CREATE TABLE IF NOT EXISTS email_opens
(
    campaign     String,
    ts           DateTime('UTC'),
    recipient_id UInt64,
    proxied      UInt8,
    country      String,
    client       String,
    -- Random per row: lets a retried batch skip rows ClickHouse already has.
    open_id      UInt64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (campaign, ts, recipient_id);
