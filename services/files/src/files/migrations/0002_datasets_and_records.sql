-- A dataset is one ingestion of one file into one data source: committed whole or not at all.
CREATE TABLE datasets (
    id              uuid        PRIMARY KEY,
    project_id      uuid        NOT NULL,
    data_source_id  uuid        NOT NULL,
    file_id         uuid        NOT NULL REFERENCES files (id),
    status          text        NOT NULL CHECK (status IN ('loading', 'committed', 'rejected')),
    row_count       integer     NOT NULL DEFAULT 0,
    error_count     integer     NOT NULL DEFAULT 0,
    skipped_duplicates integer  NOT NULL DEFAULT 0,
    errors          jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    committed_at    timestamptz
);
CREATE INDEX datasets_by_source ON datasets (data_source_id, created_at DESC);

-- The canonical records: the one read model shared across services (the matcher reads it through a
-- read-only role). Amounts are exact numerics; extras keeps the typed free fields.
CREATE TABLE records (
    dataset_id    uuid    NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    record_id     text    NOT NULL,
    line_no       integer NOT NULL,
    external_id   text,
    amount        numeric NOT NULL,
    currency      text    CHECK (currency ~ '^[A-Z]{3}$'),
    value_date    date,
    booking_date  date,
    reference     text,
    counterparty  text,
    description   text,
    extras        jsonb   NOT NULL DEFAULT '{}'::jsonb,
    fingerprint   bytea   NOT NULL,
    occurrence    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (dataset_id, record_id)
);
-- Re-importing an overlapping statement skips rows already stored for the data source.
CREATE INDEX records_by_fingerprint ON records (fingerprint, occurrence);
