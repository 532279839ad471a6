-- Hits answered but not stored, counted: per site (the configured site the
-- hit named; '' for a site that is not configured, or none), UTC hour,
-- reason (`outcome::DropReason`'s label) and, for bots, their kind
-- (`enrich::ua::BotKind`). Counts only: nothing of a request. A request with
-- Do-Not-Track or Global Privacy Control is not here: it is not a drop, it
-- is counted nowhere. Collectors add their counts every minute; rows of one
-- key sum up (SummingMergeTree): read them with sum().
CREATE TABLE IF NOT EXISTS filtered_hits
(
    site   String,
    hour   DateTime('UTC'),
    reason String,
    kind   String,
    hits   UInt64
)
ENGINE = SummingMergeTree(hits)
PARTITION BY toYYYYMM(hour)
ORDER BY (site, hour, reason, kind);
