// Package sqlite implements store.Store on SQLite through the pure-Go
// modernc.org/sqlite driver: the embedded default, zero set-up, one node.
//
// The database runs in WAL mode with synchronous=FULL, so a transaction that
// returned is on disk even across a power loss; callers batch writes (group
// commit) to amortize the fsync. Writes go through one connection (SQLite
// has one writer at a time; queuing in Go is cheaper than busy retries) and
// reads through a small pool. Migrations are embedded and applied by Open
// with goose, each in its own transaction.
package sqlite
