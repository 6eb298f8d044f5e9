-- Which hash made a dataset's record fingerprints (files.domain.canonical): 1 = BLAKE2b, 2 = BLAKE3.
-- Every dataset stored before this column existed used scheme 1. A data source keeps the scheme of its
-- committed datasets, so overlap de-duplication always compares fingerprints made the same way.
ALTER TABLE datasets ADD COLUMN fingerprint_scheme smallint NOT NULL DEFAULT 1
    CONSTRAINT datasets_fingerprint_scheme_check CHECK (fingerprint_scheme IN (1, 2));
