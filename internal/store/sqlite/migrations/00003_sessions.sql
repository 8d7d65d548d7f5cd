-- +goose Up
-- Secure sessions (internal/session). state is the engine's state sealed
-- with the gateway's data key: it holds vault tokens and masked forms,
-- never a captured value. The other columns are what lookups need.
CREATE TABLE sessions (
    id                   TEXT    NOT NULL PRIMARY KEY,
    conversation         TEXT    NOT NULL,
    peer_conversation_id TEXT    NOT NULL DEFAULT '',
    flow                 TEXT    NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN ('active', 'ended')),
    seq                  INTEGER NOT NULL,
    deadline             INTEGER NOT NULL DEFAULT 0, -- unix milliseconds; 0 = none
    state                BLOB    NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    ended_at             INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- At most one active session per conversation.
CREATE UNIQUE INDEX sessions_active ON sessions (conversation) WHERE status = 'active';
CREATE INDEX sessions_peer ON sessions (peer_conversation_id) WHERE status = 'active' AND peer_conversation_id <> '';
CREATE INDEX sessions_due ON sessions (deadline) WHERE status = 'active' AND deadline > 0;

-- +goose Down
DROP TABLE sessions;
