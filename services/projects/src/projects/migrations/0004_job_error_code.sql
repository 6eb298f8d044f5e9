-- A failed job keeps the engine's stable error_code (rules_invalid, input_invalid, engine_error) beside its
-- message, so a client can act on the code without parsing `detail`. Jobs that failed before this are NULL.
ALTER TABLE jobs ADD COLUMN error_code text;
