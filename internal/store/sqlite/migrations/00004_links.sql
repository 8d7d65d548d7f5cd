-- +goose Up
-- Secure links (internal/securelink): one-time form links. No column holds
-- a token or a submitted value: hash is SHA-256 of the token, fields is the
-- JSON description of the fields asked for (types, lengths, labels).
CREATE TABLE securelinks (
    hash       BLOB    NOT NULL PRIMARY KEY,
    session    TEXT    NOT NULL,
    step       TEXT    NOT NULL,
    locale     TEXT    NOT NULL,
    fields     TEXT    NOT NULL,
    created_at INTEGER NOT NULL, -- unix milliseconds
    expires_at INTEGER NOT NULL,
    opened_at  INTEGER NOT NULL DEFAULT 0, -- 0 = never opened
    used_at    INTEGER NOT NULL DEFAULT 0, -- 0 = not used
    attempts   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX securelinks_session ON securelinks (session);
CREATE INDEX securelinks_expiry ON securelinks (expires_at);

-- +goose Down
DROP TABLE securelinks;
