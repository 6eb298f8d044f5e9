CREATE TABLE users (
    id                uuid        PRIMARY KEY,
    email             text        NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    -- Lower-cased and trimmed: the one spelling we compare, so two accounts never differ only by case.
    email_normalized  text        NOT NULL UNIQUE,
    display_name      text        NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
    password_hash     text        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    disabled_at       timestamptz
);

-- Refresh tokens are opaque random strings; only their SHA-256 is stored. A family is one sign-in
-- (one session): every rotation adds a row to it, and reusing a rotated token revokes all of it.
CREATE TABLE refresh_tokens (
    id              uuid        PRIMARY KEY,
    family_id       uuid        NOT NULL,
    user_id         uuid        NOT NULL REFERENCES users (id),
    token_hash      bytea       NOT NULL UNIQUE,
    issued_at       timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    rotated_at      timestamptz,
    revoked_at      timestamptz,
    revoked_reason  text
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);
