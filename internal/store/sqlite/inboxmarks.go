package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// markDelay is how long completed events may wait for a webhook's append
// transaction to mark them done in the inbox file before the marker does
// it in a transaction of its own.
const markDelay = 20 * time.Millisecond

// doneMarks defers marking completed events done in the inbox file.
//
// Completing events commits their outbox rows to the main file; marking
// them done in the inbox is a second write, to another file. Rather than
// a transaction of its own per batch (and, the inbox's appends being
// fsynced, a switch of the connection's synchronous mode before and after
// each), the marks ride on the next append transaction, which commits
// anyway, or on the marker's own once markDelay has passed without one.
//
// Until its mark is committed an event is filtered out of PendingInbox.
// The completion also journals its events in the main file, in the same
// transaction as its outbox rows (inbox_completions); Open marks what a
// crash left journalled and unmarked, so a completed event is never
// processed again, and the journal is trimmed as marks are committed.
type doneMarks struct {
	mu      sync.Mutex
	queued  []mark             // to be written by the next transaction
	pending map[int64]struct{} // completed, mark not yet committed
	// open counts, per journal row, its marks not yet committed; last is
	// the newest journal row seen.
	open map[int64]int
	last int64

	kick     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	stopped  chan struct{}
}

// mark is an inbox event to mark done, with the journal row that recorded
// its completion.
type mark struct{ id, row int64 }

func newDoneMarks() *doneMarks {
	return &doneMarks{pending: map[int64]struct{}{}, open: map[int64]int{}, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
}

// add records events completed by the transaction that wrote journal row
// row.
func (m *doneMarks) add(ids []int64, row int64) {
	m.mu.Lock()
	for _, id := range ids {
		if _, ok := m.pending[id]; !ok {
			m.pending[id] = struct{}{}
			m.queued = append(m.queued, mark{id, row})
			m.open[row]++
		}
	}
	m.last = max(m.last, row)
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// halt stops markLoop and waits for it; it may be called more than once.
func (m *doneMarks) halt() {
	m.stopOnce.Do(func() { close(m.stop) })
	<-m.stopped
}

// take hands the queued marks to a transaction about to write them.
func (m *doneMarks) take() []mark {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms := m.queued
	m.queued = nil
	return ms
}

// settle reports the outcome of the transaction that took ms: committed
// marks stop filtering their events; failed ones are queued again.
func (m *doneMarks) settle(ms []mark, committed bool) {
	if len(ms) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !committed {
		m.queued = append(ms, m.queued...)
		return
	}
	for _, k := range ms {
		delete(m.pending, k.id)
		if m.open[k.row]--; m.open[k.row] <= 0 {
			delete(m.open, k.row)
		}
	}
}

// settledThrough returns the newest journal row at and below which every
// mark is committed: those rows are no longer needed.
func (m *doneMarks) settledThrough() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	through := m.last
	for row := range m.open {
		through = min(through, row-1)
	}
	return through
}

// snapshot returns the events completed with their mark not committed.
// A reader takes it before its query: a mark committed after the query's
// snapshot of the file but before the row is looked at must still hide
// the row.
func (m *doneMarks) snapshot() map[int64]struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) == 0 {
		return nil
	}
	return maps.Clone(m.pending)
}

// writeMarks marks events done within tx (an inbox-file transaction).
func (db *DB) writeMarks(ctx context.Context, tx *sql.Tx, ms []mark) error {
	if len(ms) == 0 {
		return nil
	}
	return db.markDone(ctx, tx, idList(len(ms), func(i int) int64 { return ms[i].id }))
}

// markDone marks the events of a JSON array of inbox ids done within tx.
func (db *DB) markDone(ctx context.Context, tx *sql.Tx, ids string) error {
	done, err := db.stmt(ctx, tx, qInboxDone)
	if err != nil {
		return fmt.Errorf("sqlite: mark inbox done: %w", err)
	}
	if _, err := done.ExecContext(ctx, ids); err != nil {
		return fmt.Errorf("sqlite: mark inbox done: %w", err)
	}
	return nil
}

// flushMarks commits the queued marks in a transaction of their own.
func (db *DB) flushMarks(ctx context.Context) error {
	ctx, err := hot(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: mark inbox done: %w", err)
	}
	ms := db.marks.take()
	if len(ms) == 0 {
		return nil
	}
	err = db.inTx(ctx, durable, func(tx *sql.Tx) error { return db.writeMarks(ctx, tx, ms) })
	db.marks.settle(ms, err == nil)
	return err
}

// markLoop writes the marks no append transaction took within markDelay.
// It runs on the inbox file's DB until Close.
func (db *DB) markLoop() {
	m := db.marks
	defer close(m.stopped)
	for {
		select {
		case <-m.stop:
			return
		case <-m.kick:
		}
		select {
		case <-m.stop:
			return
		case <-time.After(markDelay):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := db.flushMarks(ctx); err != nil {
			// Kept queued: the next append or flush writes them.
			select {
			case m.kick <- struct{}{}:
			default:
			}
		}
		cancel()
	}
}

// recoverMarks marks done, in the inbox file, the events that completions
// journalled in the main file before a stop that left them unmarked, and
// empties the journal. It runs once, at Open.
func (db *DB) recoverMarks(ctx context.Context) error {
	rows, err := db.r.QueryContext(ctx, `SELECT inbox_ids FROM inbox_completions ORDER BY id`)
	if err != nil {
		return fmt.Errorf("sqlite: recover inbox marks: %w", err)
	}
	var lists []string
	for rows.Next() {
		var ids string
		if err := rows.Scan(&ids); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: recover inbox marks: %w", err)
		}
		lists = append(lists, ids)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("sqlite: recover inbox marks: %w", err)
	}
	if len(lists) == 0 {
		return nil
	}
	err = db.in.inTx(ctx, durable, func(tx *sql.Tx) error {
		for _, ids := range lists {
			if err := db.in.markDone(ctx, tx, ids); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: recover inbox marks: %w", err)
	}
	return db.inTx(ctx, crashSafe, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM inbox_completions`); err != nil {
			return fmt.Errorf("sqlite: recover inbox marks: %w", err)
		}
		return nil
	})
}
