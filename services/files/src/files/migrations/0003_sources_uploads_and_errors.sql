-- Data sources: what a project ingests into (a bank account, a ledger export...), with the column-mapping
-- template and parse options every ingestion of the source starts from.
CREATE TABLE data_sources (
    id             uuid        PRIMARY KEY,
    project_id     uuid        NOT NULL,
    name           text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    mapping        jsonb,
    parse_options  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
CREATE INDEX data_sources_by_project ON data_sources (project_id, created_at);

-- A file may end as a duplicate of one already ingested (same bytes, same data source).
ALTER TABLE files DROP CONSTRAINT files_status_check;
ALTER TABLE files ADD CONSTRAINT files_status_check
    CHECK (status IN ('received', 'ingesting', 'committed', 'rejected', 'duplicate'));
ALTER TABLE files
    ADD COLUMN on_error        text  NOT NULL DEFAULT 'reject' CHECK (on_error IN ('reject', 'skip')),
    ADD COLUMN mapping         jsonb,           -- this upload's mapping; NULL: the data source's template
    ADD COLUMN parse_options   jsonb,           -- this upload's options; NULL: the data source's
    ADD COLUMN content_type    text,
    ADD COLUMN uploaded_by     uuid,
    ADD COLUMN duplicate_of    uuid REFERENCES files (id),
    ADD COLUMN problem         jsonb,           -- why the file was rejected (code, message), for the status view
    ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now();
-- The same bytes are stored once per data source while a copy is pending or committed; a rejected copy
-- frees the slot so the file can be retried with a corrected mapping.
CREATE UNIQUE INDEX files_live_content ON files (data_source_id, sha256)
    WHERE sha256 IS NOT NULL AND status IN ('received', 'ingesting', 'committed');

ALTER TABLE datasets
    ADD COLUMN on_error     text,
    ADD COLUMN detected     jsonb NOT NULL DEFAULT '{}'::jsonb,  -- format, encoding, delimiter, header, columns
    ADD COLUMN duration_ms  integer;
-- One committed dataset per file, whatever happens to its events.
CREATE UNIQUE INDEX datasets_one_committed_per_file ON datasets (file_id) WHERE status = 'committed';

-- The row-level error report of a dataset (bad rows skipped, or the reasons a file was rejected).
CREATE TABLE dataset_errors (
    dataset_id   uuid    NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    seq          integer NOT NULL,
    line_no      integer,
    column_name  text,
    code         text    NOT NULL,
    message      text    NOT NULL,
    raw_value    text,
    PRIMARY KEY (dataset_id, seq)
);
