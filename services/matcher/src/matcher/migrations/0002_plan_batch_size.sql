-- The batch size of a job's shard output is part of its plan: replicas with different settings (a
-- canary, an older release) must cut a shard into the same batches, or the results service, which
-- de-duplicates by (shard, batch sequence), would store some matches twice and miss others.
-- NULL for plans stored before this column existed: the worker's own setting applies.
ALTER TABLE job_plans ADD COLUMN max_matches_per_batch integer CHECK (max_matches_per_batch > 0);
