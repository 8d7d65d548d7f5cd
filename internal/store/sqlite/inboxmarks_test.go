package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/store"
)

// appendEvents stores n new events and returns the ids of the pending ones.
func appendEvents(t *testing.T, db *DB, prefix string, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	evs := make([]store.InboxEvent, n)
	for i := range evs {
		evs[i] = store.InboxEvent{Source: "whatsapp", DedupeKey: fmt.Sprintf("wamid.%s%d", prefix, i), Conversation: fmt.Sprintf("55%d", i),
			OccurredAt: now, ReceivedAt: now, Payload: []byte("sealed")}
	}
	if _, err := db.AppendInbox(ctx, evs); err != nil {
		t.Fatal(err)
	}
	pending, err := db.PendingInbox(ctx, now, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(pending))
	for i, e := range pending {
		ids[i] = e.ID
	}
	return ids
}

func pendingIDs(t *testing.T, db *DB) []int64 {
	t.Helper()
	evs, err := db.PendingInbox(context.Background(), time.Now(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	return ids
}

func journalRows(t *testing.T, db *DB) int {
	t.Helper()
	var n int
	if err := db.r.QueryRow(`SELECT COUNT(*) FROM inbox_completions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A completion whose inbox marks are lost (the process dies before the
// inbox file is written) must not be processed again after a restart: the
// main file's journal brings the marks back when the store opens.
func TestCompletedEventsStayDoneAcrossACrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ids := appendEvents(t, db, "a", 3)
	if len(ids) != 3 {
		t.Fatalf("pending after append: %v", ids)
	}
	done := []store.Completion{{InboxID: ids[0]}, {InboxID: ids[1]}}
	// Hold the marks back and drop them, as a crash after the completion's
	// commit would.
	db.in.marks.halt()
	if err := db.CompleteInbox(ctx, time.Now(), done); err != nil {
		t.Fatal(err)
	}
	if got := pendingIDs(t, db); len(got) != 1 || got[0] != ids[2] {
		t.Fatalf("pending after completion: %v, want [%d]", got, ids[2])
	}
	if lost := db.in.marks.take(); len(lost) != 2 {
		t.Fatalf("queued marks: %d, want 2", len(lost))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := pendingIDs(t, db); len(got) != 1 || got[0] != ids[2] {
		t.Fatalf("pending after restart: %v, want [%d]: completed events came back", got, ids[2])
	}
	if n := journalRows(t, db); n != 0 {
		t.Fatalf("journal rows after recovery: %d, want 0", n)
	}
}

// Marks ride on appends or are flushed on their own, and the journal is
// trimmed once they are committed.
func TestMarksAreWrittenAndTheJournalTrimmed(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ids := appendEvents(t, db, "a", 4)
	for _, id := range ids {
		if err := db.CompleteInbox(ctx, time.Now(), []store.Completion{{InboxID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.in.marks.settledThrough() < 4 {
		if time.Now().After(deadline) {
			t.Fatal("marks not written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var open int
	if err := db.in.r.QueryRow(`SELECT COUNT(*) FROM inbox WHERE state = 0`).Scan(&open); err != nil {
		t.Fatal(err)
	}
	if open != 0 {
		t.Fatalf("inbox rows not marked done: %d", open)
	}
	if got := pendingIDs(t, db); len(got) != 0 {
		t.Fatalf("pending: %v", got)
	}
	// The next completion trims the journal through the committed marks.
	more := appendEvents(t, db, "b", 1)
	if err := db.CompleteInbox(ctx, time.Now(), []store.Completion{{InboxID: more[0]}}); err != nil {
		t.Fatal(err)
	}
	if n := journalRows(t, db); n != 1 {
		t.Fatalf("journal rows: %d, want 1 (the newest completion's)", n)
	}
}
