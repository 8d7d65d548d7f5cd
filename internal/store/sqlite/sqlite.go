package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/secureflow/secureflow/internal/store"
)

//go:embed migrations/*.sql migrations_inbox/*.sql
var migrations embed.FS

// DB is a SQLite-backed store.Store. It uses two database files: the main
// one (outbox, conversations, dead letters, vault) and the inbox (see
// InboxPath), each with its own single writer.
type DB struct {
	in *DB // the inbox file; nil for the inbox file itself

	w *sql.DB // the single writer
	r *sql.DB // readers

	// marks defers marking events done (the inbox file only; see
	// doneMarks); trimmed is the journal row through which the main file's
	// inbox_completions was last trimmed.
	marks   *doneMarks
	trimmed atomic.Int64

	stmts  sync.Map // query → *sql.Stmt prepared on w
	rstmts sync.Map // query → *sql.Stmt prepared on r

	// Bounded caches that spare writes which would change nothing: a
	// conversation's last activity is recorded at most once a minute, and
	// its peer conversation id only when it changes.
	activity activityCache
	peers    peerCache
	// fullSync records whether the writer connection is in
	// synchronous=FULL mode; only its holder reads or changes it.
	fullSync atomic.Bool

	// ckpt runs WAL checkpoints off the write path (see checkpointLoop);
	// ckptMu keeps it from running while an erasure truncates the WAL.
	ckpt     *sql.DB
	ckptMu   sync.Mutex
	stopCkpt context.CancelFunc
	ckptDone chan struct{}
}

// checkpointEvery is how often the background checkpointer copies the WAL
// into the database file. Commits never checkpoint themselves
// (wal_autocheckpoint is off): with large commits (a batch of tokens
// dirties hundreds of pages) an inline checkpoint every ~1000 pages put
// that copy on the writer's path.
const checkpointEvery = 200 * time.Millisecond

var _ store.Store = (*DB)(nil)

// InboxPath is the inbox database file that goes with the main file at
// path: secureflow.db → secureflow.inbox.db.
func InboxPath(path string) string {
	if base, ok := strings.CutSuffix(path, ".db"); ok {
		return base + ".inbox.db"
	}
	return path + ".inbox"
}

// Open opens (creating if needed) the database at path, and its inbox file
// beside it, and applies pending migrations.
//
// The inbox has its own file so that acknowledging a webhook, an fsynced
// insert, has a writer of its own. Moving events from the inbox to the
// outbox spans both files without one transaction: the outbox rows are
// committed first and the events marked done after, so a crash in between
// only replays the events, whose outbox rows are then ignored as
// duplicates (unique idempotency keys).
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	in, err := openFile(ctx, InboxPath(path), "migrations_inbox", hotStatements{
		writes: []string{qAppendInbox, qInboxDone},
		reads:  []string{qPendingInbox, qInboxConversations},
	})
	if err != nil {
		return nil, err
	}
	db, err := openFile(ctx, path, "migrations", hotStatements{
		writes: []string{qEnqueue, qTouch, qClaim, qLease, qMarkDelivered, qPeer, qJournal, qTrimJournal},
		reads:  []string{qClaimable, qPendingLanes},
	})
	if err != nil {
		in.Close()
		return nil, err
	}
	db.in = in
	in.marks = newDoneMarks()
	go in.markLoop()
	if err := db.recoverMarks(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// hotStatements are the statements a file's hot paths run, prepared once
// at Open: SQL parsing was a visible share of the relay's CPU time.
type hotStatements struct {
	writes []string // run by the writer, in transactions
	reads  []string // run on the readers
}

func openFile(ctx context.Context, path, migrationDir string, hot hotStatements) (*DB, error) {
	// cacheKiB sizes a connection's page cache. The writer's is larger: it
	// walks the indexes of every insert (the vault's records and their
	// fingerprint index grow with every token), and a miss there is a
	// read on the write path. Pages are cached as used, so a small
	// database keeps a small footprint.
	dsn := func(cacheKiB int) string {
		q := url.Values{}
		for _, p := range []string{
			"journal_mode(WAL)",
			"synchronous(FULL)",
			"busy_timeout(10000)",
			"foreign_keys(ON)",
			"temp_store(MEMORY)",
			fmt.Sprintf("cache_size(-%d)", cacheKiB),
			"wal_autocheckpoint(0)",
		} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		return "file:" + path + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(32<<10))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	db := &DB{w: w}
	db.fullSync.Store(true) // the DSN's setting
	if err := db.migrate(ctx, migrationDir); err != nil {
		w.Close()
		return nil, err
	}
	if err := db.prepare(ctx, db.w, &db.stmts, hot.writes); err != nil {
		db.closeStmts()
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(8<<10))
	if err != nil {
		db.closeStmts()
		w.Close()
		return nil, fmt.Errorf("sqlite: open readers: %w", err)
	}
	r.SetMaxOpenConns(4)
	db.r = r
	if err := db.prepare(ctx, r, &db.rstmts, hot.reads); err != nil {
		db.closeStmts()
		r.Close()
		w.Close()
		return nil, err
	}
	ckpt, err := sql.Open("sqlite", dsn(1<<10))
	if err != nil {
		db.closeStmts()
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open checkpointer: %w", err)
	}
	ckpt.SetMaxOpenConns(1)
	db.ckpt = ckpt
	cctx, stop := context.WithCancel(context.Background())
	db.stopCkpt, db.ckptDone = stop, make(chan struct{})
	go db.checkpointLoop(cctx)
	return db, nil
}

// checkpointLoop copies committed WAL frames into the database file in the
// background (PASSIVE: it never waits for readers or writers), and resets
// the WAL once it is fully copied so that it does not grow without bound.
func (db *DB) checkpointLoop(ctx context.Context) {
	defer close(db.ckptDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		db.ckptMu.Lock()
		var busy, logFrames, done int
		err := db.ckpt.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done)
		if err == nil && logFrames > 4096 && done == logFrames {
			// Everything is in the file: let the next writer start the WAL
			// over instead of appending to a large file.
			_, _ = db.ckpt.ExecContext(ctx, `PRAGMA wal_checkpoint(RESTART)`)
		}
		db.ckptMu.Unlock()
	}
}

func (db *DB) migrate(ctx context.Context, dir string) error {
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.w, sub)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// Close closes the database.
func (db *DB) Close() error {
	var err error
	if db.marks != nil {
		db.marks.halt()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = db.flushMarks(ctx)
		cancel()
	}
	db.stopCkpt()
	<-db.ckptDone
	db.closeStmts()
	err = errors.Join(err, db.ckpt.Close(), db.r.Close(), db.w.Close())
	if db.in != nil {
		err = errors.Join(err, db.in.Close())
	}
	return err
}

func (db *DB) closeStmts() {
	for _, m := range []*sync.Map{&db.stmts, &db.rstmts} {
		m.Range(func(_, s any) bool {
			s.(*sql.Stmt).Close()
			return true
		})
	}
}

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if db.in != nil {
		return db.in.Ping(ctx)
	}
	return nil
}

// durability of a write transaction.
type durability bool

const (
	// durable commits are fsynced before they return (synchronous=FULL):
	// used where the caller acknowledges something to the outside world
	// on the strength of the commit (an inbox append answers a webhook).
	durable durability = true
	// crashSafe commits survive a process crash but may be rolled back by
	// a power loss (WAL with synchronous=NORMAL). The next durable commit
	// fsyncs the WAL, and with it every earlier commit. Used for state
	// whose loss only causes idempotent rework: processing replays, claims
	// expire, a lost delivery record means a resend with the same
	// idempotency key.
	crashSafe durability = false
)

// stmt returns the statement for query within tx: the one prepared at Open
// for the hot paths, or a fresh one.
func (db *DB) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if s, ok := db.stmts.Load(query); ok {
		return tx.StmtContext(ctx, s.(*sql.Stmt)), nil
	}
	s, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	return s, nil
}

// prepare prepares the hot-path statements once, on pool (the writer or
// the readers), so that they are not parsed again and again.
func (db *DB) prepare(ctx context.Context, pool *sql.DB, into *sync.Map, hot []string) error {
	for _, q := range hot {
		s, err := pool.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		into.Store(q, s)
	}
	return nil
}

// query runs a read on the readers, with the statement prepared at Open if
// query is a hot one.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s, ok := db.rstmts.Load(query); ok {
		return s.(*sql.Stmt).QueryContext(ctx, args...)
	}
	return db.r.QueryContext(ctx, query, args...)
}

// hot returns ctx without its cancellation, once ctx is checked not done,
// for the statements of the relay's hot path (append, pending read,
// completion, claim, delivery record). Those are short and bounded
// (busy_timeout bounds a wait for a lock), while a cancellable context
// makes the driver start a watcher goroutine and install a progress
// handler for every statement, a few percent of the relay's CPU time. A
// call that has started runs to its end.
func hot(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

// inTx runs fn in a write transaction with the given durability.
func (db *DB) inTx(ctx context.Context, d durability, fn func(*sql.Tx) error) error {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: writer: %w", err)
	}
	defer conn.Close()
	if db.fullSync.Load() != bool(d) {
		mode := "NORMAL"
		if d == durable {
			mode = "FULL"
		}
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = "+mode); err != nil {
			return fmt.Errorf("sqlite: synchronous: %w", err)
		}
		db.fullSync.Store(bool(d))
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// AppendInbox implements store.Store.
func (db *DB) AppendInbox(ctx context.Context, events []store.InboxEvent) ([]bool, error) {
	ctx, err := hot(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: append inbox: %w", err)
	}
	accepted := make([]bool, len(events))
	in := db.in
	// Completed events waiting to be marked done ride on this transaction.
	var marks []mark
	err = in.inTx(ctx, durable, func(tx *sql.Tx) error {
		marks = in.marks.take()
		if err := in.writeMarks(ctx, tx, marks); err != nil {
			return err
		}
		stmt, err := in.stmt(ctx, tx, qAppendInbox)
		if err != nil {
			return fmt.Errorf("sqlite: append inbox: %w", err)
		}
		for i, e := range events {
			if e.Source == "" || e.DedupeKey == "" || e.Conversation == "" || e.Payload == nil {
				return fmt.Errorf("sqlite: append inbox: event %d lacks source, dedupe key, conversation or payload", i)
			}
			res, err := stmt.ExecContext(ctx, e.Source, e.DedupeKey, e.Conversation, ms(e.OccurredAt), ms(e.ReceivedAt), e.Payload)
			if err != nil {
				return fmt.Errorf("sqlite: append inbox: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("sqlite: append inbox: %w", err)
			}
			accepted[i] = n == 1
		}
		return nil
	})
	in.marks.settle(marks, err == nil)
	if err != nil {
		return nil, err
	}
	return accepted, nil
}

// PendingInbox implements store.Store.
func (db *DB) PendingInbox(ctx context.Context, readyBefore time.Time, afterID int64, limit int) ([]store.InboxEvent, error) {
	ctx, err := hot(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending inbox: %w", err)
	}
	// Events completed but not yet marked done are skipped; read past
	// them so that they do not take up the limit.
	skip := db.in.marks.snapshot()
	rows, err := db.in.query(ctx, qPendingInbox, afterID, ms(readyBefore), limit+len(skip))
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending inbox: %w", err)
	}
	defer rows.Close()
	var out []store.InboxEvent
	for rows.Next() {
		var e store.InboxEvent
		var occ, rec int64
		if err := rows.Scan(&e.ID, &e.Source, &e.DedupeKey, &e.Conversation, &occ, &rec, &e.Payload); err != nil {
			return nil, fmt.Errorf("sqlite: pending inbox: %w", err)
		}
		if _, ok := skip[e.ID]; ok {
			continue
		}
		e.OccurredAt, e.ReceivedAt = fromMS(occ), fromMS(rec)
		if out = append(out, e); len(out) == limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: pending inbox: %w", err)
	}
	return out, nil
}

// CompleteInbox implements store.Store.
func (db *DB) CompleteInbox(ctx context.Context, now time.Time, done []store.Completion) error {
	_, err := db.CompleteAndClaim(ctx, now, done, store.Claim{})
	return err
}

// CompleteAndClaim implements store.Store. The outbox rows are committed
// to the main file first, with the claimed ones leased, then the events
// marked done in the inbox file (see Open for why this order is safe).
func (db *DB) CompleteAndClaim(ctx context.Context, now time.Time, done []store.Completion, claim store.Claim) ([]store.OutboxMessage, error) {
	if len(done) == 0 {
		return nil, nil
	}
	ctx, err := hot(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: complete inbox: %w", err)
	}
	ids := idList(len(done), func(i int) int64 { return done[i].InboxID })
	convs := make(map[int64]string, len(done))
	rows, err := db.in.query(ctx, qInboxConversations, ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: complete inbox: %w", err)
	}
	for rows.Next() {
		var id int64
		var conv string
		if err := rows.Scan(&id, &conv); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: complete inbox: %w", err)
		}
		convs[id] = conv
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlite: complete inbox: %w", err)
	}
	for _, c := range done {
		if _, ok := convs[c.InboxID]; !ok {
			return nil, fmt.Errorf("sqlite: complete inbox %d: %w", c.InboxID, store.ErrNotFound)
		}
		for _, m := range c.Outbox {
			if err := validOutbox(m); err != nil {
				return nil, err
			}
		}
		for _, r := range c.Sessions {
			if err := validSession(r); err != nil {
				return nil, err
			}
		}
	}
	var claimed []store.OutboxMessage
	var journalRow int64
	trim := db.in.marks.settledThrough()
	err = db.inTx(ctx, crashSafe, func(tx *sql.Tx) error {
		claimed = claimed[:0]
		if err := db.journal(ctx, tx, ids, trim, &journalRow); err != nil {
			return err
		}
		enq, err := db.stmt(ctx, tx, qEnqueue)
		if err != nil {
			return fmt.Errorf("sqlite: complete inbox: %w", err)
		}
		touch, err := db.stmt(ctx, tx, qTouch)
		if err != nil {
			return fmt.Errorf("sqlite: complete inbox: %w", err)
		}
		leaseUntil := ms(now.Add(claim.Lease))
		seen := map[string]bool{}
		for _, c := range done {
			conv := convs[c.InboxID]
			if !seen[conv] && db.activity.stale(conv, now) {
				seen[conv] = true
				if _, err := touch.ExecContext(ctx, conv, ms(now), ms(now)); err != nil {
					return fmt.Errorf("sqlite: complete inbox: %w", err)
				}
			}
			if c.PeerConversationID != "" && db.peers.changed(conv, c.PeerConversationID) {
				if err := db.notePeer(ctx, tx, conv, c.PeerConversationID, now); err != nil {
					return err
				}
			}
			for _, m := range c.Outbox {
				if m.DeadLetter != "" {
					if err := db.enqueueDeadLetter(ctx, tx, m, now); err != nil {
						return err
					}
					continue
				}
				next := m.NextAttemptAt
				if next.IsZero() {
					next = now
				}
				// A due message is leased as it is inserted if the claim
				// has room and it heads its lane: being the newest row,
				// it does when its lane has no other pending row.
				var lease int64
				if len(claimed) < claim.Limit && !next.After(now) {
					lease = leaseUntil
				}
				id, leased, err := enqueue(ctx, enq, m, next, now, lease)
				if err != nil {
					return err
				}
				if leased {
					m.ID, m.NextAttemptAt, m.CreatedAt = id, fromMS(ms(next)), fromMS(ms(now))
					claimed = append(claimed, m)
				}
			}
			if err := saveSessions(ctx, tx, now, c.Sessions); err != nil {
				return err
			}
		}
		return nil
	})

	if err != nil {
		return nil, err
	}
	db.trimmed.Store(max(db.trimmed.Load(), trim))
	inboxIDs := make([]int64, len(done))
	for i, c := range done {
		inboxIDs[i] = c.InboxID
	}
	db.in.marks.add(inboxIDs, journalRow)
	return claimed, nil
}

// journal records, within a completion's transaction, the inbox events it
// completes (see doneMarks), and drops the journal rows through trim,
// whose events are all marked done in the inbox file.
func (db *DB) journal(ctx context.Context, tx *sql.Tx, ids string, trim int64, row *int64) error {
	if trim > db.trimmed.Load() {
		del, err := db.stmt(ctx, tx, qTrimJournal)
		if err != nil {
			return fmt.Errorf("sqlite: complete inbox: %w", err)
		}
		if _, err := del.ExecContext(ctx, trim); err != nil {
			return fmt.Errorf("sqlite: complete inbox: %w", err)
		}
	}
	ins, err := db.stmt(ctx, tx, qJournal)
	if err != nil {
		return fmt.Errorf("sqlite: complete inbox: %w", err)
	}
	res, err := ins.ExecContext(ctx, ids)
	if err != nil {
		return fmt.Errorf("sqlite: complete inbox: %w", err)
	}
	if *row, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("sqlite: complete inbox: %w", err)
	}
	return nil
}

// enqueue inserts m (a duplicate idempotency key is ignored), leased until
// lease (when not 0) if its lane has no other pending row, and reports its
// id and whether it was leased.
func enqueue(ctx context.Context, enq *sql.Stmt, m store.OutboxMessage, next, now time.Time, lease int64) (int64, bool, error) {
	var id, leasedUntil int64
	err := enq.QueryRowContext(ctx, m.Lane, m.Destination, m.Kind, m.IdempotencyKey, m.Conversation, m.Ref, m.Payload,
		ms(next), ms(now), lease, m.Attempts).Scan(&id, &leasedUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil // already enqueued
	}
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: enqueue outbox: %w", err)
	}
	return id, leasedUntil != 0, nil
}

// enqueueDeadLetter stores a message that failed for good before it was
// ever enqueued straight into the dead letters. A key already in the
// outbox is ignored, as enqueue ignores it.
func (db *DB) enqueueDeadLetter(ctx context.Context, tx *sql.Tx, m store.OutboxMessage, now time.Time) error {
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM outbox WHERE idempotency_key = ?`, m.IdempotencyKey).Scan(&one); {
	case err == nil:
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlite: dead letter: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO dead_letters
		(outbox_id, lane, destination, kind, idempotency_key, conversation, payload, attempts, reason, created_at)
		VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.Lane, m.Destination, m.Kind, m.IdempotencyKey, m.Conversation,
		m.Payload, m.Attempts, m.DeadLetter, ms(now)); err != nil {
		return fmt.Errorf("sqlite: dead letter: %w", err)
	}
	return nil
}

// notePeer remembers a conversation's contact-centre id.
func (db *DB) notePeer(ctx context.Context, tx *sql.Tx, conv, peer string, at time.Time) error {
	q, err := db.stmt(ctx, tx, qPeer)
	if err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, conv, peer, ms(at), ms(at)); err != nil {
		return fmt.Errorf("sqlite: conversation peer: %w", err)
	}
	return nil
}

// PendingLanes implements store.Store.
func (db *DB) PendingLanes(ctx context.Context, lanes []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(lanes) == 0 {
		return out, nil
	}
	ctx, err := hot(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending lanes: %w", err)
	}
	list, err := json.Marshal(lanes)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending lanes: %w", err)
	}
	rows, err := db.query(ctx, qPendingLanes, string(list))
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending lanes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var lane string
		if err := rows.Scan(&lane); err != nil {
			return nil, fmt.Errorf("sqlite: pending lanes: %w", err)
		}
		out[lane] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: pending lanes: %w", err)
	}
	return out, nil
}

// idList renders n ids as a JSON array, for json_each.
func idList(n int, id func(int) int64) string {
	b := make([]byte, 0, 12*n+2)
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id(i), 10)
	}
	return string(append(b, ']'))
}

func validOutbox(m store.OutboxMessage) error {
	if m.Lane == "" || m.Destination == "" || m.Kind == "" || m.IdempotencyKey == "" || m.Conversation == "" || m.Payload == nil {
		return errors.New("sqlite: outbox message lacks lane, destination, kind, idempotency key, conversation or payload")
	}
	return nil
}

const outboxCols = `o.id, o.lane, o.destination, o.kind, o.idempotency_key, o.conversation, o.ref,
	o.payload, o.attempts, o.next_attempt_at, o.created_at, COALESCE(o.external_id, '')`

// laneHead holds for an outbox row o that is the oldest pending message of
// its lane: the condition every claim shares, which keeps a lane in order.
const laneHead = `NOT EXISTS (SELECT 1 FROM outbox p INDEXED BY outbox_pending WHERE p.state = 0 AND p.lane = o.lane AND p.id < o.id)`

// Hot-path statements, prepared once at Open.
const (
	qAppendInbox = `INSERT INTO inbox
			(source, dedupe_key, conversation, occurred_at, received_at, payload)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, dedupe_key) DO NOTHING`
	// qEnqueue inserts a message, leased until ?10 (when not 0) if no
	// other pending row shares its lane: being the newest, it is then the
	// lane's head.
	qEnqueue = `INSERT INTO outbox
			(lane, destination, kind, idempotency_key, conversation, ref, payload, next_attempt_at, created_at, lease_until, attempts)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, CASE WHEN ?10 <> 0 AND NOT EXISTS
				(SELECT 1 FROM outbox p INDEXED BY outbox_pending WHERE p.state = 0 AND p.lane = ?1) THEN ?10 ELSE 0 END, ?11)
			ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, lease_until`
	qPendingLanes = `SELECT DISTINCT lane FROM outbox INDEXED BY outbox_pending
			WHERE state = 0 AND lane IN (SELECT value FROM json_each(?))`
	qTouch = `INSERT INTO conversations (key, created_at, last_activity_at) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET last_activity_at = excluded.last_activity_at`
	// qClaim walks unleased rows in id order, then expired leases: the
	// index's order, so that the walk stops at the limit.
	qClaim = `SELECT ` + outboxCols + ` FROM outbox o INDEXED BY outbox_claimable
			WHERE o.state = 0 AND o.next_attempt_at <= ? AND o.lease_until <= ?
			AND ` + laneHead + `
			ORDER BY o.lease_until, o.id LIMIT ?`
	qClaimable = `SELECT 1 FROM outbox o INDEXED BY outbox_claimable
			WHERE o.state = 0 AND o.next_attempt_at <= ? AND o.lease_until <= ?
			AND ` + laneHead + `
			LIMIT 1`
	qPendingInbox = `SELECT id, source, dedupe_key, conversation, occurred_at, received_at, payload
			FROM inbox WHERE state = 0 AND id > ? AND received_at <= ? ORDER BY id LIMIT ?`
	qInboxConversations = `SELECT id, conversation FROM inbox WHERE id IN (SELECT value FROM json_each(?))`
	qInboxDone          = `UPDATE inbox SET state = 1, payload = NULL WHERE id IN (SELECT value FROM json_each(?))`
	qJournal            = `INSERT INTO inbox_completions (inbox_ids) VALUES (?)`
	qTrimJournal        = `DELETE FROM inbox_completions WHERE id <= ?`
	qLease              = `UPDATE outbox SET lease_until = ? WHERE id IN (SELECT value FROM json_each(?))`
	qMarkDelivered      = `UPDATE outbox SET state = 1, payload = NULL, lease_until = 0,
			delivered_at = d.value ->> 't', external_id = NULLIF(d.value ->> 'e', '')
			FROM json_each(?) AS d WHERE outbox.id = d.value ->> 'i' AND outbox.state = 0
			RETURNING outbox.id, outbox.conversation, outbox.delivered_at`
	qPeer = `INSERT INTO conversations (key, peer_conversation_id, created_at, last_activity_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET peer_conversation_id = excluded.peer_conversation_id
			WHERE peer_conversation_id <> excluded.peer_conversation_id`
)

func scanOutbox(sc interface{ Scan(...any) error }) (store.OutboxMessage, error) {
	var m store.OutboxMessage
	var next, created int64
	err := sc.Scan(&m.ID, &m.Lane, &m.Destination, &m.Kind, &m.IdempotencyKey, &m.Conversation, &m.Ref,
		&m.Payload, &m.Attempts, &next, &created, &m.ExternalID)
	m.NextAttemptAt, m.CreatedAt = fromMS(next), fromMS(created)
	return m, err
}

// ClaimOutbox implements store.Store.
func (db *DB) ClaimOutbox(ctx context.Context, now time.Time, leaseFor time.Duration, limit int) ([]store.OutboxMessage, error) {
	ctx, err := hot(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim outbox: %w", err)
	}
	// Most claims find nothing (the relay claims lane heads as it enqueues
	// them, see CompleteAndClaim): look on a reader first, so that an
	// empty claim costs no write transaction.
	rows, err := db.query(ctx, qClaimable, ms(now), ms(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim outbox: %w", err)
	}
	found := rows.Next()
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlite: claim outbox: %w", err)
	}
	if !found {
		return nil, nil
	}
	var out []store.OutboxMessage
	err = db.inTx(ctx, crashSafe, func(tx *sql.Tx) error {
		// A lane's head is its lowest pending id. Pending rows are walked
		// in id order through the partial index, each kept only if no
		// earlier pending row shares its lane (an index probe); a lane
		// whose head is leased (in flight) or not yet due delivers nothing,
		// which is what keeps one conversation in order.
		q, err := db.stmt(ctx, tx, qClaim)
		if err != nil {
			return err
		}
		rows, err := q.QueryContext(ctx, ms(now), ms(now), limit)
		if err != nil {
			return fmt.Errorf("sqlite: claim outbox: %w", err)
		}
		for rows.Next() {
			m, err := scanOutbox(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: claim outbox: %w", err)
			}
			out = append(out, m)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("sqlite: claim outbox: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: claim outbox: %w", err)
		}
		lease, err := db.stmt(ctx, tx, qLease)
		if err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		ids := make([]byte, 0, 12*len(out))
		ids = append(ids, '[')
		for i, m := range out {
			if i > 0 {
				ids = append(ids, ',')
			}
			ids = strconv.AppendInt(ids, m.ID, 10)
		}
		ids = append(ids, ']')
		if _, err := lease.ExecContext(ctx, ms(now.Add(leaseFor)), string(ids)); err != nil {
			return fmt.Errorf("sqlite: claim outbox: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MarkDelivered implements store.Store. The batch is one statement: the
// deliveries travel as a JSON array joined to the outbox, which spares a
// statement execution per row.
func (db *DB) MarkDelivered(ctx context.Context, ds []store.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	ctx, err := hot(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: mark delivered: %w", err)
	}
	type row struct {
		ID   int64  `json:"i"`
		Ext  string `json:"e,omitempty"`
		At   int64  `json:"t"`
		Peer string `json:"-"`
	}
	rows := make([]row, len(ds))
	peers := map[int64]string{}
	for i, d := range ds {
		rows[i] = row{ID: d.ID, Ext: d.ExternalID, At: ms(d.At)}
		if d.PeerConversationID != "" {
			peers[d.ID] = d.PeerConversationID
		}
	}
	batch, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("sqlite: mark delivered: %w", err)
	}
	return db.inTx(ctx, crashSafe, func(tx *sql.Tx) error {
		mark, err := db.stmt(ctx, tx, qMarkDelivered)
		if err != nil {
			return err
		}
		res, err := mark.QueryContext(ctx, string(batch))
		if err != nil {
			return fmt.Errorf("sqlite: mark delivered: %w", err)
		}
		type peerAt struct {
			conv, peer string
			at         int64
		}
		var changed []peerAt
		for res.Next() {
			// Rows already delivered or dead-lettered are not returned:
			// marking is idempotent.
			var id, at int64
			var conv string
			if err := res.Scan(&id, &conv, &at); err != nil {
				res.Close()
				return fmt.Errorf("sqlite: mark delivered: %w", err)
			}
			if p, ok := peers[id]; ok && db.peers.changed(conv, p) {
				changed = append(changed, peerAt{conv, p, at})
			}
		}
		if err := errors.Join(res.Err(), res.Close()); err != nil {
			return fmt.Errorf("sqlite: mark delivered: %w", err)
		}
		if len(changed) == 0 {
			return nil
		}
		peer, err := db.stmt(ctx, tx, qPeer)
		if err != nil {
			return err
		}
		for _, c := range changed {
			if _, err := peer.ExecContext(ctx, c.conv, c.peer, c.at, c.at); err != nil {
				return fmt.Errorf("sqlite: mark delivered: %w", err)
			}
		}
		return nil
	})
}

// Reschedule implements store.Store.
func (db *DB) Reschedule(ctx context.Context, id int64, next time.Time, reason string) error {
	return db.inTx(ctx, crashSafe, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, lease_until = 0,
			last_error = ? WHERE id = ? AND state = 0`, ms(next), reason, id)
		if err != nil {
			return fmt.Errorf("sqlite: reschedule: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("sqlite: reschedule %d: %w", id, store.ErrNotFound)
		}
		return nil
	})
}

// DeadLetter implements store.Store.
func (db *DB) DeadLetter(ctx context.Context, id int64, now time.Time, reason string) error {
	return db.inTx(ctx, durable, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO dead_letters
			(outbox_id, lane, destination, kind, idempotency_key, conversation, payload, attempts, reason, created_at)
			SELECT id, lane, destination, kind, idempotency_key, conversation, payload, attempts + 1, ?, ?
			FROM outbox WHERE id = ? AND state = 0`, reason, ms(now), id)
		if err != nil {
			return fmt.Errorf("sqlite: dead letter: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("sqlite: dead letter %d: %w", id, store.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE id = ?`, id); err != nil {
			return fmt.Errorf("sqlite: dead letter: %w", err)
		}
		return nil
	})
}

// DeadLetters implements store.Store.
func (db *DB) DeadLetters(ctx context.Context, limit int) ([]store.DeadLetter, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, outbox_id, lane, destination, kind, idempotency_key, conversation,
		payload, attempts, reason, created_at FROM dead_letters ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: dead letters: %w", err)
	}
	defer rows.Close()
	var out []store.DeadLetter
	for rows.Next() {
		var d store.DeadLetter
		var created int64
		if err := rows.Scan(&d.ID, &d.OutboxID, &d.Lane, &d.Destination, &d.Kind, &d.IdempotencyKey, &d.Conversation,
			&d.Payload, &d.Attempts, &d.Reason, &created); err != nil {
			return nil, fmt.Errorf("sqlite: dead letters: %w", err)
		}
		d.CreatedAt = fromMS(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// FindOutbox implements store.Store.
func (db *DB) FindOutbox(ctx context.Context, destination, id string) (store.OutboxMessage, error) {
	row := db.r.QueryRowContext(ctx, `SELECT `+outboxCols+` FROM outbox o
		WHERE o.destination = ? AND (o.idempotency_key = ? OR o.external_id = ?) ORDER BY o.id LIMIT 1`, destination, id, id)
	m, err := scanOutbox(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.OutboxMessage{}, fmt.Errorf("sqlite: outbox %s/%s: %w", destination, id, store.ErrNotFound)
	}
	if err != nil {
		return store.OutboxMessage{}, fmt.Errorf("sqlite: find outbox: %w", err)
	}
	return m, nil
}

// DeliverByKey implements store.Store.
func (db *DB) DeliverByKey(ctx context.Context, destination, key, externalID string, at time.Time) (bool, error) {
	var n int64
	err := db.inTx(ctx, crashSafe, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 1, payload = NULL, lease_until = 0, delivered_at = ?,
			external_id = NULLIF(?, '') WHERE destination = ? AND idempotency_key = ? AND state = 0`, ms(at), externalID, destination, key)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: deliver by key: %w", err)
	}
	return n > 0, nil
}

// RecoverLeases implements store.Store. A SQLite database belongs to one
// process at a time, so every lease left was held by a predecessor that
// crashed.
func (db *DB) RecoverLeases(ctx context.Context, now time.Time, hold map[string]time.Duration) (int64, error) {
	var n int64
	err := db.inTx(ctx, crashSafe, func(tx *sql.Tx) error {
		for dest, d := range hold {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET next_attempt_at = MAX(next_attempt_at, ?)
				WHERE state = 0 AND lease_until <> 0 AND destination = ?`, ms(now.Add(d)), dest); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET lease_until = 0 WHERE state = 0 AND lease_until <> 0`)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: recover leases: %w", err)
	}
	return n, nil
}

// Conversation implements store.Store.
func (db *DB) Conversation(ctx context.Context, key string) (store.Conversation, error) {
	var c store.Conversation
	var created, last int64
	err := db.r.QueryRowContext(ctx, `SELECT key, peer_conversation_id, created_at, last_activity_at
		FROM conversations WHERE key = ?`, key).Scan(&c.Key, &c.PeerConversationID, &created, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Conversation{}, fmt.Errorf("sqlite: conversation: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Conversation{}, fmt.Errorf("sqlite: conversation: %w", err)
	}
	c.CreatedAt, c.LastActivityAt = fromMS(created), fromMS(last)
	return c, nil
}

// Prune implements store.Store.
func (db *DB) Prune(ctx context.Context, inboxBefore, outboxBefore time.Time) (int64, error) {
	if err := db.in.flushMarks(ctx); err != nil {
		return 0, fmt.Errorf("sqlite: prune: %w", err)
	}
	var total int64
	del := func(h *DB, query string, at time.Time) error {
		return h.inTx(ctx, crashSafe, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, query, ms(at))
			if err != nil {
				return fmt.Errorf("sqlite: prune: %w", err)
			}
			n, _ := res.RowsAffected()
			total += n
			return nil
		})
	}
	if err := del(db.in, `DELETE FROM inbox WHERE state = 1 AND received_at < ?`, inboxBefore); err != nil {
		return total, err
	}
	err := del(db, `DELETE FROM outbox WHERE state = 1 AND delivered_at < ?`, outboxBefore)
	return total, err
}

// Stats implements store.Store.
func (db *DB) Stats(ctx context.Context) (store.Stats, error) {
	if err := db.in.flushMarks(ctx); err != nil {
		return store.Stats{}, fmt.Errorf("sqlite: stats: %w", err)
	}
	var s store.Stats
	if err := db.in.r.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM inbox WHERE state = 0),
		(SELECT COUNT(*) FROM inbox WHERE state = 1)`).Scan(&s.InboxPending, &s.InboxDone); err != nil {
		return store.Stats{}, fmt.Errorf("sqlite: stats: %w", err)
	}
	err := db.r.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM outbox WHERE state = 0),
		(SELECT COUNT(*) FROM outbox WHERE state = 1),
		(SELECT COUNT(*) FROM dead_letters),
		(SELECT COUNT(*) FROM conversations)`).Scan(
		&s.OutboxPending, &s.OutboxDelivered, &s.DeadLetters, &s.Conversations)
	if err != nil {
		return store.Stats{}, fmt.Errorf("sqlite: stats: %w", err)
	}
	return s, nil
}

// cacheLimit bounds each cache; past it the cache starts afresh, which only
// costs some redundant writes.
const cacheLimit = 50_000

// activityGranularity is the resolution of conversations.last_activity_at.
const activityGranularity = time.Minute

type activityCache struct {
	mu sync.Mutex
	m  map[string]time.Time
}

// stale reports whether conv's recorded activity is older than the
// granularity, and if so notes now as recorded.
func (c *activityCache) stale(conv string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, ok := c.m[conv]; ok && now.Sub(last) < activityGranularity && !now.Before(last) {
		return false
	}
	if c.m == nil || len(c.m) >= cacheLimit {
		c.m = make(map[string]time.Time)
	}
	c.m[conv] = now
	return true
}

type peerCache struct {
	mu sync.Mutex
	m  map[string]string
}

// changed reports whether peer differs from what was last recorded for
// conv, and notes it.
func (c *peerCache) changed(conv, peer string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[conv] == peer {
		return false
	}
	if c.m == nil || len(c.m) >= cacheLimit {
		c.m = make(map[string]string)
	}
	c.m[conv] = peer
	return true
}
