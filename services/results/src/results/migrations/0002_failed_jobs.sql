-- A job can now fail (job.progress "failed") before results has seen any of its batches; the failure
-- event carries neither the project nor the shard count, so the row is created without them and a later
-- batch fills them in. error_code and detail are the engine's stable code and message.
ALTER TABLE jobs ALTER COLUMN project_id DROP NOT NULL;
ALTER TABLE jobs ALTER COLUMN shard_count DROP NOT NULL;
ALTER TABLE jobs ADD COLUMN error_code text;
ALTER TABLE jobs ADD COLUMN detail text;
