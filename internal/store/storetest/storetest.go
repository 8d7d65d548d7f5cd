// Package storetest is the conformance suite every store.Store
// implementation must pass. Each implementation's tests call Run with a
// function that opens a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/store"
)

// Opener returns a fresh, empty, migrated store; Run closes it.
type Opener func(t *testing.T) store.Store

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// Run runs the conformance suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"AppendInboxDedupes", testAppendInboxDedupes},
		{"AppendInboxConcurrentDuplicates", testAppendInboxConcurrentDuplicates},
		{"AppendInboxRejectsIncomplete", testAppendInboxRejectsIncomplete},
		{"PendingInboxOrderAndReadiness", testPendingInbox},
		{"CompleteInboxErasesAndEnqueues", testCompleteInbox},
		{"CompleteInboxIdempotentOutbox", testCompleteInboxIdempotent},
		{"CompleteAndClaimLeasesLaneHeads", testCompleteAndClaim},
		{"ClaimOutboxOneHeadPerLane", testClaimOneHeadPerLane},
		{"ClaimOutboxLeaseExpiry", testClaimLeaseExpiry},
		{"RescheduleBlocksLane", testRescheduleBlocksLane},
		{"DeadLetterUnblocksLane", testDeadLetter},
		{"FindOutboxAndConversation", testFindOutbox},
		{"PruneKeepsPendingAndRecent", testPrune},
		{"Stats", testStats},
		{"SessionsSavedWithCompletion", testSessions},
		{"DeliverByKeyAndRecoverLeases", testDeliverByKeyAndRecoverLeases},
		{"PendingLanes", testPendingLanes},
		{"CompleteInboxSettledOutcomes", testCompleteSettled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

func ev(source, key, conv string, at time.Time) store.InboxEvent {
	return store.InboxEvent{Source: source, DedupeKey: key, Conversation: conv, OccurredAt: at, ReceivedAt: at, Payload: []byte("sealed:" + key)}
}

func out(dest, conv, key string) store.OutboxMessage {
	return store.OutboxMessage{Lane: dest + "/" + conv, Destination: dest, Kind: "message", IdempotencyKey: key,
		Conversation: conv, Ref: "ref-" + key, Payload: []byte("sealed:" + key)}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func pending(t *testing.T, s store.Store, at time.Time) []store.InboxEvent {
	t.Helper()
	evs, err := s.PendingInbox(context.Background(), at, 0, 1000)
	must(t, err)
	return evs
}

func claim(t *testing.T, s store.Store, at time.Time) []store.OutboxMessage {
	t.Helper()
	ms, err := s.ClaimOutbox(context.Background(), at, time.Minute, 1000)
	must(t, err)
	return ms
}

func keys(ms []store.OutboxMessage) []string {
	var k []string
	for _, m := range ms {
		k = append(k, m.IdempotencyKey)
	}
	return k
}

func testAppendInboxDedupes(t *testing.T, s store.Store) {
	ctx := context.Background()
	acc, err := s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "m1", "c1", t0), ev("whatsapp", "m2", "c1", t0), ev("genesys", "m1", "c9", t0)})
	must(t, err)
	if fmt.Sprint(acc) != "[true true true]" {
		t.Fatalf("first append accepted = %v", acc)
	}
	acc, err = s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "m2", "c1", t0), ev("whatsapp", "m3", "c1", t0)})
	must(t, err)
	if fmt.Sprint(acc) != "[false true]" {
		t.Fatalf("redelivery accepted = %v, want [false true]", acc)
	}
	// A key twice in one batch (two deliveries committed together): the
	// first is accepted, the second is a redelivery.
	acc, err = s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "m4", "c1", t0), ev("whatsapp", "m4", "c1", t0), ev("whatsapp", "m5", "c2", t0)})
	must(t, err)
	if fmt.Sprint(acc) != "[true false true]" {
		t.Fatalf("batch with a repeated key accepted = %v, want [true false true]", acc)
	}
	// Still a duplicate after processing: the dedupe key outlives the payload.
	evs := pending(t, s, t0)
	must(t, s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: evs[0].ID}}))
	acc, err = s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "m1", "c1", t0)})
	must(t, err)
	if acc[0] {
		t.Fatal("a processed event was accepted again")
	}
	if got := len(pending(t, s, t0)); got != 5 {
		t.Fatalf("pending = %d, want 5", got)
	}
}

func testAppendInboxConcurrentDuplicates(t *testing.T, s store.Store) {
	// Meta delivers concurrently and may send the same event twice within
	// the same second; exactly one copy may be accepted.
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acc, err := s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "same", "c1", t0)})
			if err != nil {
				t.Error(err)
				return
			}
			if acc[0] {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if accepted != 1 {
		t.Fatalf("accepted %d copies, want 1", accepted)
	}
}

func testAppendInboxRejectsIncomplete(t *testing.T, s store.Store) {
	e := ev("whatsapp", "m1", "c1", t0)
	e.Payload = nil
	if _, err := s.AppendInbox(context.Background(), []store.InboxEvent{ev("whatsapp", "ok", "c1", t0), e}); err == nil {
		t.Fatal("event without payload accepted")
	}
	if got := len(pending(t, s, t0)); got != 0 {
		t.Fatalf("a failed batch left %d events behind; batches must be atomic", got)
	}
}

func testPendingInbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "a", "c1", t0), ev("whatsapp", "b", "c2", t0.Add(time.Second))})
	must(t, err)
	_, err = s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "c", "c1", t0.Add(2*time.Second))})
	must(t, err)
	if got := len(pending(t, s, t0.Add(time.Second))); got != 2 {
		t.Fatalf("ready at t0+1s = %d, want 2 (readiness by received time)", got)
	}
	evs := pending(t, s, t0.Add(time.Hour))
	if len(evs) != 3 || evs[0].DedupeKey != "a" || evs[1].DedupeKey != "b" || evs[2].DedupeKey != "c" {
		t.Fatalf("order = %+v, want a b c", evs)
	}
	if !(evs[0].ID < evs[1].ID && evs[1].ID < evs[2].ID) {
		t.Fatal("ids do not increase in acceptance order")
	}
	if string(evs[2].Payload) != "sealed:c" || !evs[2].OccurredAt.Equal(t0.Add(2*time.Second)) || evs[2].Conversation != "c1" {
		t.Fatalf("round trip lost fields: %+v", evs[2])
	}
	limited, err := s.PendingInbox(ctx, t0.Add(time.Hour), 0, 1)
	must(t, err)
	if len(limited) != 1 {
		t.Fatalf("limit ignored: %d", len(limited))
	}
	after, err := s.PendingInbox(ctx, t0.Add(time.Hour), evs[0].ID, 10)
	must(t, err)
	if len(after) != 2 || after[0].DedupeKey != "b" {
		t.Fatalf("after cursor = %+v, want b c", after)
	}
}

func testCompleteInbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "a", "c1", t0)})
	must(t, err)
	evs := pending(t, s, t0)
	must(t, s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: evs[0].ID, Outbox: []store.OutboxMessage{out("genesys", "c1", "k1"), out("genesys", "c1", "k2")}}}))
	if got := len(pending(t, s, t0)); got != 0 {
		t.Fatalf("completed event still pending")
	}
	ms := claim(t, s, t0)
	if fmt.Sprint(keys(ms)) != "[k1]" {
		t.Fatalf("claimed %v, want only the lane head k1", keys(ms))
	}
	if ms[0].Ref != "ref-k1" || string(ms[0].Payload) != "sealed:k1" || ms[0].Conversation != "c1" {
		t.Fatalf("outbox round trip lost fields: %+v", ms[0])
	}
	if err := s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: 999999}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("completing an unknown event: %v, want ErrNotFound", err)
	}
	c, err := s.Conversation(ctx, "c1")
	must(t, err)
	if !c.LastActivityAt.Equal(t0) {
		t.Fatalf("conversation activity = %v", c.LastActivityAt)
	}
}

func testCompleteInboxIdempotent(t *testing.T, s store.Store) {
	// Reprocessing after a crash produces the same idempotency keys; they
	// must not be enqueued twice.
	ctx := context.Background()
	_, err := s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "a", "c1", t0), ev("whatsapp", "b", "c1", t0)})
	must(t, err)
	evs := pending(t, s, t0)
	must(t, s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: evs[0].ID, Outbox: []store.OutboxMessage{out("genesys", "c1", "k1")}}}))
	must(t, s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: evs[1].ID, Outbox: []store.OutboxMessage{out("genesys", "c1", "k1")}}}))
	st, err := s.Stats(ctx)
	must(t, err)
	if st.OutboxPending != 1 {
		t.Fatalf("outbox pending = %d, want 1", st.OutboxPending)
	}
}

func testCompleteAndClaim(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedOutbox(t, s, out("genesys", "c2", "b0")) // c2's lane is busy
	_, err := s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "e1", "c1", t0), ev("whatsapp", "e2", "c2", t0),
		ev("whatsapp", "e3", "c3", t0), ev("whatsapp", "e4", "c4", t0)})
	must(t, err)
	evs := pending(t, s, t0)
	later := out("genesys", "c3", "d1")
	later.NextAttemptAt = t0.Add(time.Minute)
	claimed, err := s.CompleteAndClaim(ctx, t0, []store.Completion{
		{InboxID: evs[0].ID, Outbox: []store.OutboxMessage{out("genesys", "c1", "a1"), out("genesys", "c1", "a2")}},
		{InboxID: evs[1].ID, Outbox: []store.OutboxMessage{out("genesys", "c2", "b1")}},
		{InboxID: evs[2].ID, Outbox: []store.OutboxMessage{later}},
		{InboxID: evs[3].ID, Outbox: []store.OutboxMessage{out("genesys", "c2", "b0")}}, // a duplicate key
	}, store.Claim{Lease: time.Minute, Limit: 10})
	must(t, err)
	// a2 waits behind a1, b1 behind the pending b0, d1 is not due, and
	// the duplicate b0 was not enqueued again.
	if fmt.Sprint(keys(claimed)) != "[a1]" {
		t.Fatalf("claimed %v, want [a1]", keys(claimed))
	}
	if m := claimed[0]; m.ID == 0 || m.Lane != "genesys/c1" || string(m.Payload) != "sealed:a1" || m.CreatedAt.IsZero() {
		t.Fatalf("claimed message lacks its id or fields: %+v", m)
	}
	if got := len(pending(t, s, t0)); got != 0 {
		t.Fatalf("%d events still pending after CompleteAndClaim", got)
	}
	// The lease holds: ClaimOutbox finds only c2's head b0.
	if got := claim(t, s, t0); fmt.Sprint(keys(got)) != "[b0]" {
		t.Fatalf("ClaimOutbox after CompleteAndClaim = %v, want [b0]", keys(got))
	}
	// The limit takes the lowest ids.
	_, err = s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "e5", "c5", t0), ev("whatsapp", "e6", "c6", t0)})
	must(t, err)
	evs = pending(t, s, t0)
	claimed, err = s.CompleteAndClaim(ctx, t0, []store.Completion{
		{InboxID: evs[0].ID, Outbox: []store.OutboxMessage{out("genesys", "c5", "f1")}},
		{InboxID: evs[1].ID, Outbox: []store.OutboxMessage{out("genesys", "c6", "g1")}},
	}, store.Claim{Lease: time.Minute, Limit: 1})
	must(t, err)
	if fmt.Sprint(keys(claimed)) != "[f1]" {
		t.Fatalf("claimed with limit 1 = %v, want [f1]", keys(claimed))
	}
	if got := claim(t, s, t0); fmt.Sprint(keys(got)) != "[g1]" {
		t.Fatalf("ClaimOutbox = %v, want the unclaimed [g1]", keys(got))
	}
}

func seedOutbox(t *testing.T, s store.Store, msgs ...store.OutboxMessage) {
	t.Helper()
	ctx := context.Background()
	_, err := s.AppendInbox(ctx, []store.InboxEvent{ev("test", fmt.Sprint(time.Now().UnixNano()), "seed", t0)})
	must(t, err)
	evs := pending(t, s, t0)
	must(t, s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: evs[len(evs)-1].ID, Outbox: msgs}}))
}

func testClaimOneHeadPerLane(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedOutbox(t, s, out("genesys", "c1", "a1"), out("genesys", "c2", "b1"), out("genesys", "c1", "a2"), out("whatsapp", "c1", "w1"))
	first := claim(t, s, t0)
	if fmt.Sprint(keys(first)) != "[a1 b1 w1]" {
		t.Fatalf("first claim = %v, want one head per lane [a1 b1 w1]", keys(first))
	}
	if again := claim(t, s, t0); len(again) != 0 {
		t.Fatalf("claimed %v while every lane head is leased", keys(again))
	}
	must(t, s.MarkDelivered(ctx, []store.Delivery{{ID: first[0].ID, ExternalID: "ext-a1", PeerConversationID: "gc-1", At: t0}}))
	next := claim(t, s, t0)
	if fmt.Sprint(keys(next)) != "[a2]" {
		t.Fatalf("after delivering a1, claim = %v, want [a2]", keys(next))
	}
	// Marking twice is harmless.
	must(t, s.MarkDelivered(ctx, []store.Delivery{{ID: first[0].ID, At: t0}}))
	c, err := s.Conversation(ctx, "c1")
	must(t, err)
	if c.PeerConversationID != "gc-1" {
		t.Fatalf("peer conversation id = %q, want gc-1", c.PeerConversationID)
	}
}

func testClaimLeaseExpiry(t *testing.T, s store.Store) {
	seedOutbox(t, s, out("genesys", "c1", "a1"))
	if got := claim(t, s, t0); len(got) != 1 {
		t.Fatalf("claim = %d", len(got))
	}
	if got := claim(t, s, t0.Add(59*time.Second)); len(got) != 0 {
		t.Fatal("claimed while the lease holds")
	}
	got := claim(t, s, t0.Add(61*time.Second))
	if fmt.Sprint(keys(got)) != "[a1]" {
		t.Fatalf("after lease expiry claim = %v, want [a1] (holder crashed, message resent)", keys(got))
	}
}

func testRescheduleBlocksLane(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedOutbox(t, s, out("genesys", "c1", "a1"), out("genesys", "c1", "a2"), out("genesys", "c2", "b1"))
	got := claim(t, s, t0)
	must(t, s.Reschedule(ctx, got[0].ID, t0.Add(10*time.Second), "http 500"))
	must(t, s.MarkDelivered(ctx, []store.Delivery{{ID: got[1].ID, At: t0}}))
	if got := claim(t, s, t0.Add(5*time.Second)); len(got) != 0 {
		t.Fatalf("claimed %v before the retry time; a2 must wait behind a1", keys(got))
	}
	got = claim(t, s, t0.Add(10*time.Second))
	if fmt.Sprint(keys(got)) != "[a1]" || got[0].Attempts != 1 {
		t.Fatalf("retry claim = %v attempts=%d, want [a1] with 1 attempt", keys(got), got[0].Attempts)
	}
	if err := s.Reschedule(ctx, 999999, t0, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reschedule unknown: %v", err)
	}
}

func testDeadLetter(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedOutbox(t, s, out("genesys", "c1", "a1"), out("genesys", "c1", "a2"))
	got := claim(t, s, t0)
	must(t, s.DeadLetter(ctx, got[0].ID, t0, "http 400 invalid destination"))
	got = claim(t, s, t0)
	if fmt.Sprint(keys(got)) != "[a2]" {
		t.Fatalf("after dead-lettering a1, claim = %v, want [a2]", keys(got))
	}
	dl, err := s.DeadLetters(ctx, 10)
	must(t, err)
	if len(dl) != 1 || dl[0].IdempotencyKey != "a1" || dl[0].Reason != "http 400 invalid destination" || string(dl[0].Payload) != "sealed:a1" || dl[0].Attempts != 1 {
		t.Fatalf("dead letters = %+v", dl)
	}
	if err := s.DeadLetter(ctx, got[0].ID+1000, t0, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("dead-letter unknown: %v", err)
	}
}

func testFindOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedOutbox(t, s, out("whatsapp", "c1", "g-1"))
	got := claim(t, s, t0)
	must(t, s.MarkDelivered(ctx, []store.Delivery{{ID: got[0].ID, ExternalID: "wamid.X", At: t0}}))
	for _, id := range []string{"g-1", "wamid.X"} {
		m, err := s.FindOutbox(ctx, "whatsapp", id)
		must(t, err)
		if m.IdempotencyKey != "g-1" || m.ExternalID != "wamid.X" || m.Ref != "ref-g-1" || m.Payload != nil {
			t.Fatalf("FindOutbox(%s) = %+v (payload must be erased once delivered)", id, m)
		}
	}
	if _, err := s.FindOutbox(ctx, "genesys", "g-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("wrong destination: %v", err)
	}
	if _, err := s.Conversation(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown conversation: %v", err)
	}
}

func testPrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "old", "c1", t0), ev("whatsapp", "pending", "c1", t0)})
	must(t, err)
	_, err = s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "new", "c1", t0.Add(48*time.Hour))})
	must(t, err)
	evs := pending(t, s, t0.Add(100*time.Hour))
	must(t, s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: evs[0].ID, Outbox: []store.OutboxMessage{out("genesys", "c1", "k")}}, {InboxID: evs[2].ID}}))
	ms := claim(t, s, t0)
	must(t, s.MarkDelivered(ctx, []store.Delivery{{ID: ms[0].ID, At: t0}}))
	n, err := s.Prune(ctx, t0.Add(24*time.Hour), t0.Add(time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("pruned %d rows, want 2 (old inbox event, delivered outbox message)", n)
	}
	if got := pending(t, s, t0.Add(100*time.Hour)); len(got) != 1 || got[0].DedupeKey != "pending" {
		t.Fatalf("pending after prune = %+v", got)
	}
	acc, err := s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "old", "c1", t0), ev("whatsapp", "new", "c1", t0)})
	must(t, err)
	if fmt.Sprint(acc) != "[true false]" {
		t.Fatalf("after prune accepted = %v, want [true false] (expired key forgotten, recent one kept)", acc)
	}
}

func testStats(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.Ping(ctx))
	seedOutbox(t, s, out("genesys", "c1", "a"), out("genesys", "c2", "b"))
	got := claim(t, s, t0)
	must(t, s.MarkDelivered(ctx, []store.Delivery{{ID: got[0].ID, At: t0}}))
	must(t, s.DeadLetter(ctx, got[1].ID, t0, "x"))
	st, err := s.Stats(ctx)
	must(t, err)
	want := store.Stats{InboxDone: 1, OutboxDelivered: 1, DeadLetters: 1, Conversations: 1}
	if st != want {
		t.Fatalf("stats = %+v, want %+v", st, want)
	}
}

// testSessions checks secure-session records: saved atomically with an
// inbox completion, moved forward only by a higher seq, at most one active
// per conversation, and found by id, conversation, peer and deadline.
func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	ss, ok := s.(store.SessionStore)
	if !ok {
		t.Fatalf("%T does not implement store.SessionStore", s)
	}
	if _, err := s.AppendInbox(ctx, []store.InboxEvent{ev("w", "k1", "c1", t0), ev("w", "k2", "c1", t0), ev("w", "k3", "c1", t0), ev("w", "k4", "c1", t0)}); err != nil {
		t.Fatal(err)
	}
	pend, err := s.PendingInbox(ctx, t0, 0, 10)
	if err != nil || len(pend) != 4 {
		t.Fatalf("PendingInbox = %d, %v", len(pend), err)
	}
	rec := store.SessionRecord{ID: "s1", Conversation: "c1", Flow: "pay", Status: store.SessionActive, Seq: 1,
		Deadline: t0.Add(time.Minute), State: []byte("sealed-1"), CreatedAt: t0}
	if err := s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: pend[0].ID, Outbox: []store.OutboxMessage{out("whatsapp", "c1", "s1:1")}, Sessions: []store.SessionRecord{rec}}}); err != nil {
		t.Fatal(err)
	}
	got, err := ss.ActiveSession(ctx, "c1")
	if err != nil || got.ID != "s1" || got.Seq != 1 || string(got.State) != "sealed-1" || !got.Deadline.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ActiveSession = %+v, %v", got, err)
	}
	if _, err := ss.ActiveSessionByPeer(ctx, "p1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ActiveSessionByPeer before the peer is known: %v, want ErrNotFound", err)
	}
	// A replay of an older transition does not roll the session back.
	next := rec
	next.Seq, next.State, next.PeerConversationID = 2, []byte("sealed-2"), "p1"
	stale := rec
	stale.State = []byte("stale")
	if err := s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: pend[1].ID, Sessions: []store.SessionRecord{next}}, {InboxID: pend[2].ID, Sessions: []store.SessionRecord{stale}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := ss.Session(ctx, "s1"); err != nil || got.Seq != 2 || string(got.State) != "sealed-2" {
		t.Fatalf("Session after a stale save = seq %d state %q, %v; want seq 2", got.Seq, got.State, err)
	}
	if got, err := ss.ActiveSessionByPeer(ctx, "p1"); err != nil || got.ID != "s1" {
		t.Fatalf("ActiveSessionByPeer = %+v, %v", got, err)
	}
	if due, err := ss.DueSessions(ctx, t0, 10); err != nil || len(due) != 0 {
		t.Fatalf("DueSessions before the deadline = %d, %v", len(due), err)
	}
	if due, err := ss.DueSessions(ctx, t0.Add(time.Minute), 10); err != nil || len(due) != 1 {
		t.Fatalf("DueSessions at the deadline = %d, %v", len(due), err)
	}
	if act, err := ss.ActiveSessions(ctx, "", 10); err != nil || len(act) != 1 {
		t.Fatalf("ActiveSessions = %d, %v", len(act), err)
	}
	// A second active session on the same conversation is refused, and the
	// whole completion with it.
	other := store.SessionRecord{ID: "s2", Conversation: "c1", Flow: "pay", Status: store.SessionActive, Seq: 1, State: []byte("x")}
	if err := s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: pend[3].ID, Outbox: []store.OutboxMessage{out("whatsapp", "c1", "s2:1")}, Sessions: []store.SessionRecord{other}}}); err == nil {
		t.Fatal("a second active session on one conversation was saved")
	}
	if _, err := ss.Session(ctx, "s2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Session(s2) = %v, want ErrNotFound", err)
	}
	// Ending frees the conversation.
	end := next
	end.Seq, end.Status, end.EndedAt, end.Deadline = 3, store.SessionEnded, t0, time.Time{}
	if err := s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: pend[3].ID, Sessions: []store.SessionRecord{end, other}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := ss.ActiveSession(ctx, "c1"); err != nil || got.ID != "s2" {
		t.Fatalf("ActiveSession after the first ended = %+v, %v", got, err)
	}
	if got, err := ss.Session(ctx, "s1"); err != nil || got.Status != store.SessionEnded || got.EndedAt.IsZero() {
		t.Fatalf("ended session = %+v, %v", got, err)
	}
	if err := s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: pend[3].ID, Sessions: []store.SessionRecord{{ID: "bad"}}}}); err == nil {
		t.Fatal("an incomplete session record was accepted")
	}
}

// testDeliverByKeyAndRecoverLeases checks delivery learnt from a status
// echoing the key, and the recovery of a crashed predecessor's leases with
// a hold for destinations that cannot drop a resend.
func testDeliverByKeyAndRecoverLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.AppendInbox(ctx, []store.InboxEvent{ev("w", "k1", "c1", t0)}); err != nil {
		t.Fatal(err)
	}
	pend, _ := s.PendingInbox(ctx, t0, 0, 10)
	if err := s.CompleteInbox(ctx, t0, []store.Completion{{InboxID: pend[0].ID, Outbox: []store.OutboxMessage{
		out("whatsapp", "c1", "wa-1"), out("genesys", "c1", "gc-1"), out("whatsapp", "c2", "wa-2")}}}); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimOutbox(ctx, t0, time.Minute, 10)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("claim = %d, %v", len(claimed), err)
	}
	// The process dies with all three in flight; wa-2 was in fact sent,
	// and its status (echoing the key) arrives after the restart.
	n, err := s.RecoverLeases(ctx, t0, map[string]time.Duration{"whatsapp": 20 * time.Second})
	if err != nil || n != 3 {
		t.Fatalf("RecoverLeases = %d, %v; want 3", n, err)
	}
	if n, err := s.RecoverLeases(ctx, t0, nil); err != nil || n != 0 {
		t.Fatalf("a second RecoverLeases = %d, %v; want 0", n, err)
	}
	due, err := s.ClaimOutbox(ctx, t0, time.Minute, 10)
	if err != nil || len(due) != 1 || due[0].IdempotencyKey != "gc-1" {
		t.Fatalf("claimable at once = %+v, %v; want only gc-1 (whatsapp held)", due, err)
	}
	ok, err := s.DeliverByKey(ctx, "whatsapp", "wa-2", "wamid.2", t0.Add(time.Second))
	if err != nil || !ok {
		t.Fatalf("DeliverByKey = %v, %v", ok, err)
	}
	if ok, err := s.DeliverByKey(ctx, "whatsapp", "wa-2", "wamid.2", t0.Add(time.Second)); err != nil || ok {
		t.Fatalf("a second DeliverByKey = %v, %v; want false", ok, err)
	}
	if m, err := s.FindOutbox(ctx, "whatsapp", "wamid.2"); err != nil || m.IdempotencyKey != "wa-2" {
		t.Fatalf("FindOutbox by the status's wamid = %+v, %v", m, err)
	}
	later, err := s.ClaimOutbox(ctx, t0.Add(21*time.Second), time.Minute, 10)
	if err != nil || len(later) != 1 || later[0].IdempotencyKey != "wa-1" {
		t.Fatalf("claimable after the hold = %+v, %v; want only wa-1", later, err)
	}
}

func testPendingLanes(t *testing.T, s store.Store) {
	ctx := context.Background()
	later := out("genesys", "c3", "c3-1")
	later.NextAttemptAt = t0.Add(time.Hour) // waiting for a retry still counts
	seedOutbox(t, s, out("genesys", "c1", "a1"), out("genesys", "c2", "b1"), later)
	got := claim(t, s, t0) // a1 and b1 leased: in flight still counts
	for _, m := range got {
		if m.IdempotencyKey == "b1" {
			must(t, s.MarkDelivered(ctx, []store.Delivery{{ID: m.ID, At: t0}}))
		}
	}
	busy, err := s.PendingLanes(ctx, []string{"genesys/c1", "genesys/c2", "genesys/c3", "genesys/c4", "whatsapp/c1"})
	must(t, err)
	if fmt.Sprint(busy) != "map[genesys/c1:true genesys/c3:true]" {
		t.Fatalf("PendingLanes = %v, want c1 (leased) and c3 (waiting for a retry)", busy)
	}
	if busy, err := s.PendingLanes(ctx, nil); err != nil || len(busy) != 0 {
		t.Fatalf("PendingLanes(nil) = %v, %v", busy, err)
	}
}

// testCompleteSettled: a completion may carry outcomes already known: a
// message that failed for good goes straight to the dead letters, a failed
// one keeps its attempt count and retry time, and the contact centre's
// conversation id a delivery reported is remembered.
func testCompleteSettled(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.AppendInbox(ctx, []store.InboxEvent{ev("whatsapp", "e1", "c1", t0), ev("whatsapp", "e2", "c2", t0), ev("whatsapp", "e3", "c3", t0)})
	must(t, err)
	evs := pending(t, s, t0)
	dead := out("genesys", "c1", "k-dead")
	dead.Attempts, dead.DeadLetter = 1, "http 400: invalid recipient"
	retry := out("genesys", "c2", "k-retry")
	retry.Attempts, retry.NextAttemptAt = 1, t0.Add(time.Minute)
	must(t, s.CompleteInbox(ctx, t0, []store.Completion{
		{InboxID: evs[0].ID, Outbox: []store.OutboxMessage{dead}},
		{InboxID: evs[1].ID, Outbox: []store.OutboxMessage{retry}},
		{InboxID: evs[2].ID, PeerConversationID: "gc-3"},
	}))
	if got := len(pending(t, s, t0)); got != 0 {
		t.Fatalf("%d events still pending", got)
	}
	dl, err := s.DeadLetters(ctx, 10)
	must(t, err)
	if len(dl) != 1 || dl[0].IdempotencyKey != "k-dead" || dl[0].OutboxID != 0 || dl[0].Attempts != 1 ||
		dl[0].Reason != "http 400: invalid recipient" || string(dl[0].Payload) != "sealed:k-dead" || dl[0].Lane != "genesys/c1" {
		t.Fatalf("dead letters = %+v", dl)
	}
	if got := claim(t, s, t0); len(got) != 0 {
		t.Fatalf("claimed %v before the retry time (and the dead letter must not be claimable)", keys(got))
	}
	got := claim(t, s, t0.Add(time.Minute))
	if fmt.Sprint(keys(got)) != "[k-retry]" || got[0].Attempts != 1 {
		t.Fatalf("claim at the retry time = %+v", got)
	}
	c, err := s.Conversation(ctx, "c3")
	must(t, err)
	if c.PeerConversationID != "gc-3" {
		t.Fatalf("peer conversation id = %q, want gc-3", c.PeerConversationID)
	}
}
