-- Retention of the bookkeeping (adapters/bookkeeping.py) finds jobs whose rows are all older than its cutoff:
-- these indexes let it find old rows without reading every row each time it runs.
CREATE INDEX job_plans_by_planned_at ON job_plans (planned_at);
CREATE INDEX job_failures_by_failed_at ON job_failures (failed_at);
CREATE INDEX shard_worker_losses_by_lost_at ON shard_worker_losses (lost_at);
