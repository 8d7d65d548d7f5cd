-- +goose Up
-- Claims look for pending rows that are not leased. Most pending rows are
-- leased (the relay leases lane heads as it enqueues them and queues them
-- for its workers), and an index on id alone made every claim, and every
-- check for claimable work, walk all of them. Leading with lease_until
-- confines both to the rows whose lease is absent (0) or expired, in id
-- order among the unleased.
DROP INDEX outbox_due;
CREATE INDEX outbox_claimable ON outbox (lease_until, id) WHERE state = 0;

-- The inbox events each completion committed (a JSON array of inbox ids),
-- kept until they are marked done in the inbox file, which happens later
-- and in another transaction. Opening the store marks any left by a crash,
-- so that a completed event is never processed again.
CREATE TABLE inbox_completions (
    id        INTEGER PRIMARY KEY,
    inbox_ids TEXT NOT NULL
);

-- +goose Down
DROP TABLE inbox_completions;
DROP INDEX outbox_claimable;
CREATE INDEX outbox_due ON outbox (id) WHERE state = 0;
