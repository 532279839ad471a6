-- The hour rows of rollup layout 0 (see 0012), which no report reads any
-- more: deleted, so the rollup tables hold one layout's rows. A day's rows
-- of layout 1 are written under other dimensions, so none is deleted here
-- whenever this runs. Safe to repeat.
ALTER TABLE daily_stats DELETE WHERE dimension IN ('first_hour', 'last_hour', 'prefix_views', 'suffix_views');
ALTER TABLE daily_filtered DELETE WHERE dimension IN ('first_hour', 'last_hour', 'prefix_views', 'suffix_views');
