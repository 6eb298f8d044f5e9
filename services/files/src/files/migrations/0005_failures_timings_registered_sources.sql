-- A file can also end failed: our fault, not the file's (an internal error, a parser that keeps crashing).
-- A failed file frees its content slot, and a redelivered event for it tries again.
ALTER TABLE files DROP CONSTRAINT files_status_check;
ALTER TABLE files ADD CONSTRAINT files_status_check
    CHECK (status IN ('received', 'ingesting', 'committed', 'rejected', 'duplicate', 'failed'));

-- Seconds per ingestion stage (copy, dedupe, index, attach, commit, and the parser's own split), for operators.
ALTER TABLE datasets ADD COLUMN timings jsonb NOT NULL DEFAULT '{}'::jsonb;

-- The projects service owns data sources (their ids, names and lifecycle). A row here registers one with the
-- files service, the first time a file or a mapping template names it, and holds what files owns about it:
-- the mapping template and parse options. Names are projects' to keep unique.
ALTER TABLE data_sources DROP CONSTRAINT data_sources_project_id_name_key;
CREATE INDEX data_sources_by_name ON data_sources (project_id, name);
