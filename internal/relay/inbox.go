package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/store"
)

// ErrClosed is returned by Accept after Close.
var ErrClosed = errors.New("relay: closed")

// Sealer encrypts payloads at rest, bound to associated data.
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(ciphertext, ad []byte) ([]byte, error)
}

func inboxAD(source, dedupeKey string) []byte {
	return []byte("inbox\x00" + source + "\x00" + dedupeKey)
}

func outboxAD(idempotencyKey string) []byte { return []byte("outbox\x00" + idempotencyKey) }

// maxCommitBatch bounds one group commit.
const maxCommitBatch = 1024

// A group commit of fewer than lingerBelow events waits up to Inbox.linger
// for more, when the one before had at least lingerAfter: under load, when
// webhooks arrive faster than commits complete, a fuller batch spares
// commits (each an fsync and a fixed share of CPU); at a trickle, waiting
// would only add latency.
const (
	lingerBelow = 16
	lingerAfter = 4
)

type appendReq struct {
	events []store.InboxEvent
	done   chan error
}

// Inbox is the webhook sink: it seals events and commits them durably,
// coalescing concurrent webhooks into one transaction (group commit), so
// one fsync serves many requests.
type Inbox struct {
	st      store.Store
	sealer  Sealer
	now     func() time.Time
	metrics *Metrics
	log     *slog.Logger
	wake    func()
	linger  time.Duration

	reqs    chan appendReq
	mu      sync.RWMutex // guards closed against concurrent enqueues
	closed  bool
	closing chan struct{}
	done    chan struct{}
}

func newInbox(st store.Store, sealer Sealer, now func() time.Time, m *Metrics, log *slog.Logger, wake func()) *Inbox {
	in := &Inbox{st: st, sealer: sealer, now: now, metrics: m, log: log, wake: wake,
		linger: time.Millisecond,
		reqs:   make(chan appendReq, 256), closing: make(chan struct{}), done: make(chan struct{})}
	go in.commitLoop()
	return in
}

// Accept implements webhook.Sink. It returns once every event is durably
// stored or recognized as a redelivery.
func (in *Inbox) Accept(ctx context.Context, events []event.Event) error {
	rows := make([]store.InboxEvent, len(events))
	now := in.now()
	for i, e := range events {
		pt, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("relay: encode event: %w", err)
		}
		key := e.DedupeKey()
		ct, err := in.sealer.Seal(pt, inboxAD(e.Source, key))
		if err != nil {
			return fmt.Errorf("relay: seal event: %w", err)
		}
		at := e.Time
		if at.IsZero() {
			at = now
		}
		conv := e.Customer
		if conv == "" {
			conv = "-" // a status without recipient: no conversation to order within
		}
		rows[i] = store.InboxEvent{Source: e.Source, DedupeKey: key, Conversation: conv, OccurredAt: at, ReceivedAt: now, Payload: ct}
	}
	req := appendReq{events: rows, done: make(chan error, 1)}
	in.mu.RLock()
	if in.closed {
		in.mu.RUnlock()
		return ErrClosed
	}
	select {
	case in.reqs <- req:
		in.mu.RUnlock()
	case <-ctx.Done():
		in.mu.RUnlock()
		return ctx.Err()
	}
	// Once queued, the commit happens regardless of ctx: waiting for it
	// keeps the answer truthful (a 200 only for what is stored).
	return <-req.done
}

func (in *Inbox) commitLoop() {
	defer close(in.done)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	prev := 0 // events in the previous commit
	for {
		var first appendReq
		select {
		case first = <-in.reqs:
		case <-in.closing:
			// Drain what was queued before closing.
			for {
				select {
				case r := <-in.reqs:
					in.commit([]appendReq{r})
				default:
					return
				}
			}
		}
		batch := []appendReq{first}
		n := len(first.events)
		lingering := false
	fill:
		for n < maxCommitBatch {
			select {
			case r := <-in.reqs:
				batch = append(batch, r)
				n += len(r.events)
				continue
			default:
			}
			// Nothing more queued: under load, wait a little for more.
			if n >= lingerBelow || prev < lingerAfter || in.linger <= 0 {
				break
			}
			if !lingering {
				lingering = true
				linger.Reset(in.linger)
			}
			select {
			case r := <-in.reqs:
				batch = append(batch, r)
				n += len(r.events)
			case <-linger.C:
				lingering = false
				break fill
			}
		}
		linger.Stop() // no stale tick survives Stop (Go 1.23 timers)
		prev = n
		in.commit(batch)
	}
}

func (in *Inbox) commit(batch []appendReq) {
	var all []store.InboxEvent
	for _, r := range batch {
		all = append(all, r.events...)
	}
	// A store failure must not be blamed on a caller's context: commit
	// with a background context bounded by a timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	accepted, err := in.st.AppendInbox(ctx, all)
	if err == nil {
		in.metrics.CommitBatch.Observe(float64(len(all)))
		for i, ok := range accepted {
			res := "duplicate"
			if ok {
				res = "new"
			}
			in.metrics.InboxStored.WithLabelValues(all[i].Source, res).Inc()
		}
		in.wake()
	} else {
		in.log.Error("inbox commit failed", "events", len(all), "error", err.Error())
	}
	for _, r := range batch {
		r.done <- err
	}
}

// close stops accepting and waits for queued commits.
func (in *Inbox) close() {
	in.mu.Lock()
	if !in.closed {
		in.closed = true
		close(in.closing)
	}
	in.mu.Unlock()
	<-in.done
}
