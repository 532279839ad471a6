-- Hashing keys shared by every collector writing to this database.
-- Do not grant reporting users SELECT on these tables: with a key, anyone can
-- test whether a known visitor or recipient token produced a given hash.

-- One random salt per UTC day. Several collectors may each propose one; all use
-- the smallest. Partitions older than two days are dropped by the collector,
-- after which that day's visitor ids cannot be recomputed by anyone.
CREATE TABLE IF NOT EXISTS visitor_salts
(
    day        Date,
    salt       String,
    created_at DateTime('UTC')
)
ENGINE = MergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (day, salt);

-- The installation's key for email recipient ids (smallest row wins, as above).
-- A campaign's salt is derived from it, so a recipient keeps one id per campaign.
CREATE TABLE IF NOT EXISTS recipient_keys
(
    key        String,
    created_at DateTime('UTC')
)
ENGINE = MergeTree()
ORDER BY key;
