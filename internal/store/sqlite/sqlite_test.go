package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/store"
	"github.com/secureflow/secureflow/internal/store/sqlite"
	"github.com/secureflow/secureflow/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AppendInbox(ctx, []store.InboxEvent{{Source: "s", DedupeKey: "k", Conversation: "c", Payload: []byte("p")}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen (migrations must be idempotent): %v", err)
	}
	defer db.Close()
	st, err := db.Stats(ctx)
	if err != nil || st.InboxPending != 1 {
		t.Fatalf("after reopen stats = %+v, %v", st, err)
	}
}

func TestReopenRecoversLeasesOfACrashedPredecessor(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := db.AppendInbox(ctx, []store.InboxEvent{{Source: "s", DedupeKey: "k", Conversation: "c", Payload: []byte("p"), ReceivedAt: now}}); err != nil {
		t.Fatal(err)
	}
	evs, _ := db.PendingInbox(ctx, now, 0, 10)
	out := store.OutboxMessage{Lane: "l", Destination: "d", Kind: "k", IdempotencyKey: "i", Conversation: "c", Payload: []byte("p")}
	if err := db.CompleteInbox(ctx, now, []store.Completion{{InboxID: evs[0].ID, Outbox: []store.OutboxMessage{out}}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.ClaimOutbox(ctx, now, time.Hour, 10); len(got) != 1 {
		t.Fatal("claim failed")
	}
	db.Close() // the holder "crashes" with the lease held
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, _ := db.ClaimOutbox(ctx, now, time.Hour, 10); len(got) != 0 {
		t.Fatal("a lease was released before the relay recovered it")
	}
	if n, err := db.RecoverLeases(ctx, now, nil); err != nil || n != 1 {
		t.Fatalf("RecoverLeases = %d, %v", n, err)
	}
	if got, _ := db.ClaimOutbox(ctx, now, time.Hour, 10); len(got) != 1 {
		t.Fatal("the lease of a crashed process still blocks its lane after recovery")
	}
}

// The hot-path calls drop their context's cancellation once started (see
// hot in sqlite.go), but a context already done is refused before any
// work, and nothing is written.
func TestHotPathRefusesADoneContext(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	now := time.Now()
	ev := store.InboxEvent{Source: "s", DedupeKey: "k", Conversation: "c", Payload: []byte("p"), ReceivedAt: now}
	calls := map[string]error{}
	_, calls["AppendInbox"] = db.AppendInbox(ctx, []store.InboxEvent{ev})
	_, calls["PendingInbox"] = db.PendingInbox(ctx, now, 0, 10)
	calls["CompleteInbox"] = db.CompleteInbox(ctx, now, []store.Completion{{InboxID: 1}})
	_, calls["ClaimOutbox"] = db.ClaimOutbox(ctx, now, time.Minute, 10)
	calls["MarkDelivered"] = db.MarkDelivered(ctx, []store.Delivery{{ID: 1, At: now}})
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
	if st, err := db.Stats(context.Background()); err != nil || st.InboxPending+st.InboxDone != 0 {
		t.Fatalf("stats after refused calls = %+v, %v: something was written", st, err)
	}
}
