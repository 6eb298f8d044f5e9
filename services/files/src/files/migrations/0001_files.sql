CREATE TABLE files (
    id              uuid        PRIMARY KEY,
    project_id      uuid        NOT NULL,
    data_source_id  uuid        NOT NULL,
    object_uri      text        NOT NULL,
    filename        text        NOT NULL,
    sha256          text,
    size_bytes      bigint,
    origin          text        NOT NULL CHECK (origin IN ('upload', 'external')),
    status          text        NOT NULL CHECK (status IN ('received', 'ingesting', 'committed', 'rejected')),
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_by_data_source ON files (data_source_id, received_at DESC);
