-- file.ingested can now say "failed" (our side: a bug or a crashing parser) apart from "rejected" (the
-- file's content), so a data source can tell its owner whether uploading again may help.
ALTER TABLE data_sources DROP CONSTRAINT data_sources_ingestion_status_check;
ALTER TABLE data_sources ADD CONSTRAINT data_sources_ingestion_status_check
    CHECK (ingestion_status IN ('committed', 'rejected', 'duplicate', 'failed'));
