ALTER TABLE projects
    ADD COLUMN description text        NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    ADD COLUMN status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    ADD COLUMN created_by  uuid,
    ADD COLUMN updated_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN archived_at timestamptz;

-- Who may see and change a project. Users live in the gateway's identity schema; the email is copied here
-- when the member is added, so member lists need no cross-service call.
CREATE TABLE memberships (
    project_id  uuid        NOT NULL REFERENCES projects (id),
    user_id     uuid        NOT NULL,
    email       text        NOT NULL DEFAULT '',
    role        text        NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    added_at    timestamptz NOT NULL DEFAULT now(),
    added_by    uuid,
    PRIMARY KEY (project_id, user_id)
);
-- The project list starts from the caller's memberships.
CREATE INDEX memberships_by_user ON memberships (user_id, project_id);

CREATE TABLE data_sources (
    id                 uuid        PRIMARY KEY,
    project_id         uuid        NOT NULL REFERENCES projects (id),
    name               text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description        text        NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         uuid,
    -- Folded in from file.ingested: the latest ingestion's outcome.
    latest_file_id     uuid,
    latest_dataset_id  uuid,
    ingestion_status   text        CHECK (ingestion_status IN ('committed', 'rejected', 'duplicate')),
    row_count          integer,
    error_count        integer,
    ingested_at        timestamptz,
    UNIQUE (project_id, name)
);

ALTER TABLE jobs ADD COLUMN requested_by uuid;

CREATE INDEX projects_by_name ON projects (lower(name), id);
CREATE INDEX projects_by_updated ON projects (updated_at, id);
CREATE INDEX projects_by_created ON projects (created_at, id);
