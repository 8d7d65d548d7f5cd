package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/secureflow/secureflow/internal/store"
)

// Direct delivery
//
// A customer message forwarded as it is (no secure session, nothing the
// detection policy withheld) is the bulk of the traffic. When its lane
// towards the contact centre is empty, the processor hands it to a worker
// at once instead of enqueuing it: the event stays pending in the inbox
// while the message is in flight, and once the send has an outcome the
// event is completed: after a success with nothing enqueued (the message's
// id is its WhatsApp id, so the agent's receipts route without a stored
// row, see agentReceipt), after a failure with the message enqueued for
// the dispatcher's retries, or dead-lettered. This spares the queued
// path's outbox insert, lease and delivery record, and keeps its
// guarantees:
//
//   - no loss: until its completion commits, the event is pending in the
//     inbox; after a crash it is processed again and the message resent with
//     the same channel.messageId, which Genesys drops as a duplicate (the
//     queued path resends a message in flight at a crash the same way);
//   - order: while a conversation has a direct delivery in flight, its later
//     events (of either direction) are parked in memory, still pending in
//     the store, and are processed only once that delivery is settled; a
//     message goes direct only if its lane has nothing undelivered in the
//     outbox and nothing enqueued earlier in the same batch;
//   - only towards Genesys: WhatsApp cannot drop a resend, so messages to
//     customers keep the queued path and its crash hold (Config.ResendHold).
//
// Parked events are bounded (maxParked in all); past the bound a
// conversation's events are left in the store and read again from there,
// in order, once its delivery is settled.

// defaultMaxParked bounds the events parked in memory behind direct
// deliveries.
const defaultMaxParked = 4096

// resultLinger is how long a direct delivery's outcome may wait for others
// before the processor is woken to complete them: under load a batch of new
// events picks them up sooner, and one completion serves many.
const resultLinger = 2 * time.Millisecond

// directJob is a message handed to a worker without an outbox row.
type directJob struct {
	row     store.InboxEvent // the pending event it comes from
	item    outItem
	created time.Time
}

// directResult is a direct delivery's outcome.
type directResult struct {
	job  directJob
	peer string // the contact centre's conversation id, on success
	err  error
}

// busyConv is a conversation with a direct delivery in flight.
type busyConv struct {
	parked  []store.InboxEvent // its later events, in order, still pending in the store
	spilled bool               // some were left in the store instead
}

// resultQueue passes direct outcomes from the workers to the processor.
type resultQueue struct {
	mu   sync.Mutex
	rs   []directResult
	wake func()
}

func (q *resultQueue) add(r directResult) {
	q.mu.Lock()
	first := len(q.rs) == 0
	q.rs = append(q.rs, r)
	q.mu.Unlock()
	if first {
		time.AfterFunc(resultLinger, q.wake)
	}
}

func (q *resultQueue) take() []directResult {
	q.mu.Lock()
	defer q.mu.Unlock()
	rs := q.rs
	q.rs = nil
	return rs
}

// directOK reports whether a routed event may be delivered directly, and if
// so takes a worker slot for it.
func (p *processor) directOK(r routed, pendingLanes, enqueued map[string]bool) bool {
	if !p.direct || !r.plain || r.rec != nil || len(r.items) != 1 {
		return false
	}
	it := r.items[0]
	if it.dest != DestGenesys || it.kind != KindMessage {
		return false
	}
	l := lane(it.dest, it.cmd.Customer)
	if pendingLanes[l] || enqueued[l] {
		return false
	}
	return p.disp.reserve(1) == 1
}

// pendingLanes returns which of the contact-centre lanes of evs'
// conversations have undelivered outbox messages. The processor is the only
// one to enqueue, so the answer holds for the batch; on a read error every
// lane counts as busy (no direct delivery in this batch).
func (p *processor) pendingLanes(ctx context.Context, evs []store.InboxEvent) map[string]bool {
	if !p.direct || len(evs) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(evs))
	lanes := make([]string, 0, len(evs))
	for _, e := range evs {
		l := lane(DestGenesys, e.Conversation)
		if !seen[l] {
			seen[l] = true
			lanes = append(lanes, l)
		}
	}
	busy, err := p.st.PendingLanes(ctx, lanes)
	if err != nil {
		p.log.Warn("reading pending lanes failed; queuing this batch", "error", err.Error())
		return seen
	}
	return busy
}

// settle turns a direct delivery's outcome into its event's completion:
// nothing to enqueue after a success; after a failure, the message enqueued
// to be retried after the backoff (honouring Retry-After) or dead-lettered,
// as the dispatcher does with its own failed attempts.
func (p *processor) settle(r directResult, now time.Time) (store.Completion, error) {
	c := store.Completion{InboxID: r.job.row.ID}
	if r.err == nil {
		c.PeerConversationID = r.peer
		return c, nil
	}
	out, err := p.sealAll(r.job.row.Conversation, []outItem{r.job.item})
	if err != nil {
		return store.Completion{}, fmt.Errorf("relay: settle direct delivery: %w", err)
	}
	m := out[0]
	m.Attempts = 1
	var rt retryable
	canRetry := errors.As(r.err, &rt) && rt.Retryable()
	d := p.disp
	if canRetry && now.Sub(r.job.created) < d.giveUpAfter {
		d.rndMu.Lock()
		delay := d.backoff.Delay(0, rt.RetryAfter(), d.rnd)
		d.rndMu.Unlock()
		m.NextAttemptAt = now.Add(delay)
		d.metrics.Retries.WithLabelValues(m.Destination).Inc()
		d.log.Warn("delivery failed, will retry", "inbox_id", r.job.row.ID, "idempotency_key", m.IdempotencyKey,
			"destination", m.Destination, "attempt", 1, "retry_in", delay.String(), "error", r.err.Error())
	} else {
		m.DeadLetter = r.err.Error()
		if canRetry {
			m.DeadLetter = "gave up after " + d.giveUpAfter.String() + ": " + m.DeadLetter
		}
		d.metrics.DeadLetters.WithLabelValues(m.Destination, m.Kind).Inc()
		// Ids only: the payload stays sealed in the dead-letter table.
		d.log.Error("delivery failed permanently, dead-lettered", "inbox_id", r.job.row.ID, "idempotency_key", m.IdempotencyKey,
			"destination", m.Destination, "kind", m.Kind, "attempts", 1, "error", m.DeadLetter)
	}
	c.Outbox = []store.OutboxMessage{m}
	return c, nil
}

// apply records, once a batch has committed, which conversations are busy
// and which events memory holds: settled conversations are freed (their
// parked events were processed in the batch, or, spilled, are read again
// from the store), new direct deliveries make theirs busy, and parked events
// join their conversation's queue.
func (p *processor) apply(results []directResult, directs []directJob, parked []store.InboxEvent, spilled, nowBusy map[string]bool) {
	for _, r := range results {
		conv := r.job.row.Conversation
		delete(p.held, r.job.row.ID)
		if b := p.busy[conv]; b != nil {
			for _, e := range b.parked {
				delete(p.held, e.ID)
			}
			p.parked -= len(b.parked)
			delete(p.busy, conv)
		}
	}
	for conv := range nowBusy {
		p.busy[conv] = &busyConv{}
	}
	for _, j := range directs {
		p.held[j.row.ID] = struct{}{}
	}
	for _, e := range parked {
		b := p.busy[e.Conversation]
		b.parked = append(b.parked, e)
		p.held[e.ID] = struct{}{}
		p.parked++
	}
	for conv := range spilled {
		if b := p.busy[conv]; b != nil {
			b.spilled = true
		}
	}
	p.metrics.Direct.Add(float64(len(directs)))
	p.metrics.Parked.Set(float64(p.parked))
}

// flush completes, at shutdown, the outcomes of direct deliveries that
// ended after the last batch, so that their events are not processed
// again.
func (p *processor) flush(ctx context.Context) error {
	results := append(p.carry, p.results.take()...)
	p.carry = nil
	if len(results) == 0 {
		return nil
	}
	now := p.now()
	done := make([]store.Completion, 0, len(results))
	for _, r := range results {
		c, err := p.settle(r, now)
		if err != nil {
			return err
		}
		done = append(done, c)
	}
	if err := p.st.CompleteInbox(ctx, now, done); err != nil {
		return fmt.Errorf("relay: complete direct deliveries: %w", err)
	}
	p.apply(results, nil, nil, nil, nil)
	return nil
}

// direct delivers a message that has no outbox row, on a slot already
// reserved, and reports its outcome.
func (d *dispatcher) direct(j directJob, report func(directResult)) {
	var res directResult
	d.onWorker(func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
		defer cancel()
		m := store.OutboxMessage{Destination: j.item.dest, Kind: j.item.kind, IdempotencyKey: j.item.key, Conversation: j.row.Conversation}
		_, peer, err := d.send(ctx, m, j.item.cmd)
		if err == nil {
			d.metrics.Delivered.WithLabelValues(m.Destination, m.Kind).Inc()
			d.metrics.DeliveryLatency.WithLabelValues(m.Destination).Observe(d.now().Sub(j.created).Seconds())
		}
		res = directResult{job: j, peer: peer, err: err}
	}, func() { report(res) })
}
