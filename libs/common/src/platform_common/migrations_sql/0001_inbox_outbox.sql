-- Inbox: one row per (consumer, event) handled, written in the handler's own transaction so a
-- redelivered event is recognised and skipped (exactly-once effects on top of at-least-once delivery).
CREATE TABLE inbox (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    handled_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Outbox: events written in the same transaction as the state change they announce; a relay
-- publishes them and stamps published_at, so a commit is never followed by a lost event.
CREATE TABLE outbox (
    id            uuid        PRIMARY KEY,
    topic         text        NOT NULL,
    message_key   bytea,
    payload       bytea       NOT NULL,
    headers       jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
