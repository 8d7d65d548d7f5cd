-- +goose Up
-- Outbox: messages to deliver. A lane delivers in id order, one at a time.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    lane            TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    conversation    TEXT    NOT NULL,
    ref             TEXT    NOT NULL DEFAULT '',
    payload         BLOB,             -- sealed; NULL once delivered
    state           INTEGER NOT NULL DEFAULT 0, -- 0 pending, 1 delivered
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    external_id     TEXT,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (lane, id) WHERE state = 0;
CREATE INDEX outbox_due ON outbox (id) WHERE state = 0;
CREATE INDEX outbox_external ON outbox (destination, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE state = 1;

CREATE TABLE dead_letters (
    id              INTEGER PRIMARY KEY,
    outbox_id       INTEGER NOT NULL,
    lane            TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    conversation    TEXT    NOT NULL,
    payload         BLOB,
    attempts        INTEGER NOT NULL,
    reason          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE conversations (
    key                  TEXT PRIMARY KEY,
    peer_conversation_id TEXT NOT NULL DEFAULT '',
    created_at           INTEGER NOT NULL,
    last_activity_at     INTEGER NOT NULL
);

-- +goose Down
DROP TABLE conversations;
DROP TABLE dead_letters;
DROP TABLE outbox;
