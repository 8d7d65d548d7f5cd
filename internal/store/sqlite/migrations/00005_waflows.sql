-- +goose Up
-- WhatsApp Flows tokens (internal/waflows). No column holds a token or a
-- submitted value: hash is SHA-256 of the flow token, fields is the JSON
-- description of the fields asked for (types, lengths, labels).
CREATE TABLE waflow_tokens (
    hash       BLOB    NOT NULL PRIMARY KEY,
    session    TEXT    NOT NULL,
    step       TEXT    NOT NULL,
    locale     TEXT    NOT NULL,
    fields     TEXT    NOT NULL,
    created_at INTEGER NOT NULL, -- unix milliseconds
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NOT NULL DEFAULT 0, -- 0 = not used
    attempts   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX waflow_tokens_session ON waflow_tokens (session);
CREATE INDEX waflow_tokens_expiry ON waflow_tokens (expires_at);

-- +goose Down
DROP TABLE waflow_tokens;
