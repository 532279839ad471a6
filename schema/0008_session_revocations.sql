-- Dashboard sign-outs, shared by every collector of this database: a session
-- of `holder` (`token` or `link`) and `subject` (the token's name, or the
-- link's site) opened at or before `revoked_ms` (UTC milliseconds) is over.
-- Each collector reads this table every few seconds; no session is stored.
-- Merges keep each holder's latest sign-out, so the table holds one row per
-- holder; sessions last at most 8 hours, after which a row ends nothing.
CREATE TABLE IF NOT EXISTS session_revocations
(
    holder     String,
    subject    String,
    revoked_ms UInt64
)
ENGINE = ReplacingMergeTree(revoked_ms)
ORDER BY (holder, subject);
