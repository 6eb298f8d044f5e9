-- Which records each shard of a job holds. Written once by the planner (replaced whole if a redelivered
-- job.started plans again: the plan is deterministic), read by the workers that match each shard.
CREATE TABLE shard_members (
    job_id     uuid     NOT NULL,
    side       char(1)  NOT NULL CHECK (side IN ('L', 'R')),
    shard_no   integer  NOT NULL,
    record_id  text     NOT NULL,
    PRIMARY KEY (job_id, side, record_id)
);
CREATE INDEX shard_members_by_shard ON shard_members (job_id, shard_no, side);

CREATE TABLE job_plans (
    job_id       uuid        PRIMARY KEY,
    shard_count  integer     NOT NULL,
    strategy     text        NOT NULL,
    left_rows    integer     NOT NULL,
    right_rows   integer     NOT NULL,
    planned_at   timestamptz NOT NULL DEFAULT now()
);
