-- How the noise of the days in `released.daily` was derived from the noise
-- key (`release::DERIVATION`). 0 (the default) for days released before it
-- was recorded, whose cells were hashed one by one; the rollup releases
-- those again, so that `released.daily` and the reports' whole days carry
-- the same noise. Run once, through the schema_migrations ledger.
ALTER TABLE released_days ADD COLUMN noise_derivation UInt8;
