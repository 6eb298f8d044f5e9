-- A job whose shard met an engine error (rules that cannot run on the data: the same shard would fail
-- again) has failed as a whole. The first failure is kept; shards of a failed job are skipped, not matched.
CREATE TABLE job_failures (
    job_id      uuid        PRIMARY KEY,
    shard_no    integer     NOT NULL,
    error_code  text        NOT NULL,
    detail      text        NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);
