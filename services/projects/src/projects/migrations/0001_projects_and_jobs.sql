CREATE TABLE projects (
    id          uuid        PRIMARY KEY,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id                uuid        PRIMARY KEY,
    project_id        uuid        NOT NULL REFERENCES projects (id),
    status            text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    left_dataset_id   uuid        NOT NULL,
    right_dataset_id  uuid        NOT NULL,
    rule_set          jsonb       NOT NULL,
    shard_count       integer,
    shards_finished   integer     NOT NULL DEFAULT 0,
    matched           integer,
    review            integer,
    unmatched_left    integer,
    unmatched_right   integer,
    detail            text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_by_project ON jobs (project_id, created_at DESC);
