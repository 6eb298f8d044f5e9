CREATE TABLE jobs (
    job_id        uuid        PRIMARY KEY,
    project_id    uuid        NOT NULL,
    shard_count   integer     NOT NULL CHECK (shard_count > 0),
    status        text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    completed_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per received batch; the key makes a re-sent batch a no-op even under a new event id.
CREATE TABLE shard_batches (
    job_id     uuid    NOT NULL REFERENCES jobs (job_id),
    shard_no   integer NOT NULL,
    batch_seq  integer NOT NULL,
    is_last    boolean NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, shard_no, batch_seq)
);

CREATE TABLE matches (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id       uuid    NOT NULL REFERENCES jobs (job_id),
    shard_no     integer NOT NULL,
    pass_name    text    NOT NULL,
    left_ids     text[]  NOT NULL,
    right_ids    text[]  NOT NULL,
    score        double precision NOT NULL,
    status       text    NOT NULL CHECK (status IN ('auto', 'review', 'confirmed', 'rejected', 'manual')),
    explanation  jsonb   NOT NULL
);
CREATE INDEX matches_by_job ON matches (job_id, status);

CREATE TABLE unmatched (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id       uuid    NOT NULL REFERENCES jobs (job_id),
    side         text    NOT NULL CHECK (side IN ('left', 'right')),
    record_id    text    NOT NULL,
    explanation  jsonb   NOT NULL,
    UNIQUE (job_id, side, record_id)
);
