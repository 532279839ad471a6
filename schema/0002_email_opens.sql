-- One row per accepted email open. recipient_id is a keyed hash scoped to the
-- campaign; the raw recipient token is never stored.
CREATE TABLE IF NOT EXISTS email_opens
(
    campaign     String,
    ts           DateTime('UTC'),
    recipient_id UInt64,
    proxied      UInt8,
    country      String,
    client       String
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (campaign, ts, recipient_id);
