-- Page titles are no longer stored: no report reads them, and a title can
-- name a person ("Password reset for carol@example.com"). The column is
-- dropped, with what earlier versions stored in it. Run once, through the
-- schema_migrations ledger (ClickHouse 18.16 has no DROP COLUMN IF EXISTS).
ALTER TABLE events DROP COLUMN title;
