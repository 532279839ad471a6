-- One row per accepted click on an email link (`GET /l`). recipient_id is
-- the keyed hash the recipient's opens of the campaign carry; the raw token,
-- the address, the user agent and the link's query are never stored.
-- scanner: what the request itself showed of a mail scanner or prefetcher
-- (0 nothing, 1 prefetch, 2 agent, 3 old_browser, 4 network;
-- enrich::scanner::Signal::code); the timing rules are worked out by the
-- reports from ts, the link and honeypot (1 for the hidden honeypot link,
-- whose link_host and link_path are empty).
CREATE TABLE IF NOT EXISTS email_clicks
(
    campaign     String,
    ts           DateTime('UTC'),
    recipient_id UInt64,
    link_host    String,
    link_path    String,
    scanner      UInt8,
    honeypot     UInt8,
    -- Random per row: lets a retried batch skip rows ClickHouse already has.
    click_id     UInt64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (campaign, recipient_id, ts);
