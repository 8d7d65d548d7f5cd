-- +goose Up
-- The inbox lives in its own database file, with its own writer, so that
-- acknowledging webhooks (an fsynced insert) never queues behind the
-- processing and delivery transactions of the main file.
-- Inbox: every accepted webhook event. (source, dedupe_key) is the dedupe
-- key Meta's and Genesys' redeliveries hit; rows stay after processing (with
-- their payload erased) until relay.dedupe_retention has passed.
CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY,
    source       TEXT    NOT NULL,
    dedupe_key   TEXT    NOT NULL,
    conversation TEXT    NOT NULL,
    occurred_at  INTEGER NOT NULL, -- unix milliseconds
    received_at  INTEGER NOT NULL,
    payload      BLOB,             -- sealed; NULL once processed
    state        INTEGER NOT NULL DEFAULT 0, -- 0 pending, 1 done
    UNIQUE (source, dedupe_key)
);
CREATE INDEX inbox_pending ON inbox (id) WHERE state = 0;
CREATE INDEX inbox_received ON inbox (received_at) WHERE state = 1;

-- +goose Down
DROP TABLE inbox;
