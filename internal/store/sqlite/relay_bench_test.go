package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/store"
	"github.com/secureflow/secureflow/internal/store/sqlite"
)

// BenchmarkRelayPath measures the store's share of relaying one message:
// the inbox append, its completion into an outbox message, the claim and
// the delivery record, in batches of 32 as the relay's group commits see
// them under load. Each sub-benchmark times one operation; ns/op is per
// message.
//
//	go test ./internal/store/sqlite -run '^$' -bench RelayPath
func BenchmarkRelayPath(b *testing.B) {
	const batch = 32
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	payload := make([]byte, 420) // a sealed event is about this size
	now := time.Now()
	seq := 0
	// stage runs one round of the path for batch messages and times op.
	type op int
	const (
		opAppend op = iota
		opComplete
		opClaim
		opMark
	)
	round := func(b *testing.B, timed op) {
		evs := make([]store.InboxEvent, batch)
		for i := range evs {
			seq++
			evs[i] = store.InboxEvent{Source: "whatsapp", DedupeKey: fmt.Sprintf("customer_message:wamid.HBgL%012d", seq),
				Conversation: fmt.Sprintf("55%09d", seq%1000), OccurredAt: now, ReceivedAt: now, Payload: payload}
		}
		timer := func(o op, f func()) {
			if o != timed {
				b.StopTimer()
				f()
				b.StartTimer()
				return
			}
			f()
		}
		var pending []store.InboxEvent
		timer(opAppend, func() {
			if _, err := db.AppendInbox(ctx, evs); err != nil {
				b.Fatal(err)
			}
		})
		b.StopTimer()
		pending, err = db.PendingInbox(ctx, now, 0, batch)
		if err != nil || len(pending) != batch {
			b.Fatalf("pending = %d, %v", len(pending), err)
		}
		done := make([]store.Completion, len(pending))
		for i, e := range pending {
			key := fmt.Sprintf("sf%030d", e.ID)
			done[i] = store.Completion{InboxID: e.ID, Outbox: []store.OutboxMessage{{Lane: "genesys/" + e.Conversation,
				Destination: "genesys", Kind: "message", IdempotencyKey: key, Conversation: e.Conversation, Ref: e.DedupeKey, Payload: payload}}}
		}
		b.StartTimer()
		timer(opComplete, func() {
			if err := db.CompleteInbox(ctx, now, done); err != nil {
				b.Fatal(err)
			}
		})
		var claimed []store.OutboxMessage
		timer(opClaim, func() {
			claimed, err = db.ClaimOutbox(ctx, now, time.Minute, batch)
			if err != nil {
				b.Fatal(err)
			}
		})
		ds := make([]store.Delivery, len(claimed))
		for i, m := range claimed {
			ds[i] = store.Delivery{ID: m.ID, ExternalID: fmt.Sprintf("9f1c%028d", m.ID), PeerConversationID: "peer-" + m.Conversation, At: now}
		}
		timer(opMark, func() {
			if err := db.MarkDelivered(ctx, ds); err != nil {
				b.Fatal(err)
			}
		})
	}
	// Warm the tables to a realistic size first.
	for range 300 {
		round(b, -1)
	}
	for _, o := range []struct {
		name string
		op   op
	}{{"append", opAppend}, {"complete", opComplete}, {"claim", opClaim}, {"mark", opMark}} {
		b.Run(o.name, func(b *testing.B) {
			for i := 0; i < b.N; i += batch {
				round(b, o.op)
			}
		})
	}
}
