package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/secureflow/secureflow/internal/channel/whatsapp"
	"github.com/secureflow/secureflow/internal/contactcenter/genesys"
	"github.com/secureflow/secureflow/internal/retry"
	"github.com/secureflow/secureflow/internal/store"
)

// ContactCenter is what the relay needs from the contact-centre client.
type ContactCenter interface {
	SendMessage(ctx context.Context, m genesys.InboundMessage) (genesys.Posted, error)
	SendReceipt(ctx context.Context, r genesys.Receipt) error
}

// Channel is what the relay needs from the channel client.
type Channel interface {
	Send(ctx context.Context, m whatsapp.Message) (string, error)
	MarkRead(ctx context.Context, wamid string) error
}

// retryable is implemented by client errors that know whether a later
// attempt can succeed and how long the server asked to wait.
type retryable interface {
	Retryable() bool
	RetryAfter() time.Duration
}

type dispatcher struct {
	st      store.Store
	sealer  Sealer
	cc      ContactCenter
	ch      Channel
	actions Actions
	control Control

	actionTimeout time.Duration
	now           func() time.Time
	workers       int
	timeout       time.Duration // one attempt
	lease         time.Duration // longer than timeout
	backoff       retry.Backoff
	giveUpAfter   time.Duration
	metrics       *Metrics
	log           *slog.Logger

	rndMu sync.Mutex
	rnd   *rand.Rand

	// slots bounds the messages leased and held in memory (queued for a
	// worker or being delivered); running bounds those being delivered
	// (relay.workers). Leasing more than the workers can run at once lets
	// the processor hand over every lane head it enqueues, with its
	// command, instead of leaving the excess to a claim transaction that
	// reads and decodes it again.
	slots   chan struct{}
	running chan struct{}
	done    chan store.Delivery
	wg      sync.WaitGroup // leased messages not yet delivered or released
}

// queuePerWorker is how many leased messages per worker may wait in memory
// for a free worker.
const queuePerWorker = 3

// dispatchOnce claims as many due lane heads as there are free slots
// (workers and their queues) and starts delivering them. It never reports
// more work ready: a claim that filled every free slot is followed by a
// wake-up when deliveries end.
func (d *dispatcher) dispatchOnce(ctx context.Context) (bool, error) {
	free := cap(d.slots) - len(d.slots)
	// Claim in batches: a claim is a write transaction, and claiming one
	// message each time a slot frees up would cost a transaction per
	// message. Wait for a quarter of the slots (as many as there are
	// workers) to be free, unless the dispatcher is idle.
	if free == 0 || (free < cap(d.slots)/4 && free < cap(d.slots)) {
		return false, nil
	}
	msgs, err := d.st.ClaimOutbox(ctx, d.now(), d.lease, free)
	if err != nil {
		return false, fmt.Errorf("relay: claim outbox: %w", err)
	}
	for _, m := range msgs {
		d.slots <- struct{}{}
		d.start(m, nil)
	}
	return false, nil
}

// reserve takes up to n free worker slots, without waiting, for messages
// the processor claims as it enqueues them (store.CompleteAndClaim); it
// returns how many it took. Each is handed back by start or release.
func (d *dispatcher) reserve(n int) int {
	for k := 0; k < n; k++ {
		select {
		case d.slots <- struct{}{}:
		default:
			return k
		}
	}
	return n
}

// release hands back n reserved slots that were not used.
func (d *dispatcher) release(n int) {
	for range n {
		<-d.slots
	}
}

// start delivers a claimed message on a slot already taken, once a worker
// is free (waiting goroutines are served in arrival order). c is its
// command when the caller has it decoded (nil: decode the payload).
func (d *dispatcher) start(m store.OutboxMessage, c *command) {
	d.onWorker(func() { d.deliver(m, c) }, nil)
}

// onWorker runs work on a slot already taken, once a worker is free, then
// after (if any) once the worker is free again.
func (d *dispatcher) onWorker(work, after func()) {
	d.wg.Add(1)
	go func() {
		defer func() {
			<-d.slots
			d.wg.Done()
		}()
		d.running <- struct{}{}
		d.metrics.InFlight.Inc()
		work()
		d.metrics.InFlight.Dec()
		<-d.running
		if after != nil {
			after()
		}
	}()
}

// deliver performs one attempt. It uses its own context so that shutdown
// lets in-flight deliveries finish rather than cutting them off midway.
func (d *dispatcher) deliver(m store.OutboxMessage, c *command) {
	timeout := d.timeout
	if m.Destination == DestAction {
		timeout = d.actionTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if c == nil {
		var err error
		if c, err = d.decode(m); err != nil {
			d.fail(m, err)
			return
		}
	}
	ext, peerConv, err := d.send(ctx, m, *c)
	if err == nil {
		d.metrics.Delivered.WithLabelValues(m.Destination, m.Kind).Inc()
		d.metrics.DeliveryLatency.WithLabelValues(m.Destination).Observe(d.now().Sub(m.CreatedAt).Seconds())
		d.done <- store.Delivery{ID: m.ID, ExternalID: ext, PeerConversationID: peerConv, At: d.now()}
		return
	}
	d.fail(m, err)
}

func (d *dispatcher) fail(m store.OutboxMessage, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := d.now()
	var r retryable
	canRetry := errors.As(cause, &r) && r.Retryable()
	if canRetry && now.Sub(m.CreatedAt) < d.giveUpAfter {
		var floor time.Duration
		if r != nil {
			floor = r.RetryAfter()
		}
		d.rndMu.Lock()
		delay := d.backoff.Delay(m.Attempts, floor, d.rnd)
		d.rndMu.Unlock()
		d.metrics.Retries.WithLabelValues(m.Destination).Inc()
		d.log.Warn("delivery failed, will retry", "outbox_id", m.ID, "idempotency_key", m.IdempotencyKey,
			"destination", m.Destination, "attempt", m.Attempts+1, "retry_in", delay.String(), "error", cause.Error())
		if err := d.st.Reschedule(ctx, m.ID, now.Add(delay), cause.Error()); err != nil {
			// The lease expires and the message is retried anyway.
			d.log.Error("reschedule failed", "outbox_id", m.ID, "error", err.Error())
		}
		return
	}
	reason := cause.Error()
	if canRetry {
		reason = "gave up after " + d.giveUpAfter.String() + ": " + reason
	}
	d.metrics.DeadLetters.WithLabelValues(m.Destination, m.Kind).Inc()
	// Ids only: the payload stays sealed in the dead-letter table.
	d.log.Error("delivery failed permanently, dead-lettered", "outbox_id", m.ID, "idempotency_key", m.IdempotencyKey,
		"destination", m.Destination, "kind", m.Kind, "attempts", m.Attempts+1, "error", reason)
	if err := d.st.DeadLetter(ctx, m.ID, now, reason); err != nil {
		d.log.Error("dead-letter failed", "outbox_id", m.ID, "error", err.Error())
	}
}

// errUndecodable marks a payload that cannot be opened: never retryable.
var errUndecodable = errors.New("relay: outbox payload cannot be opened")

// decode opens and decodes a claimed message's payload.
func (d *dispatcher) decode(m store.OutboxMessage) (*command, error) {
	pt, err := d.sealer.Open(m.Payload, outboxAD(m.IdempotencyKey))
	if err != nil {
		return nil, errUndecodable
	}
	var c command
	if err := json.Unmarshal(pt, &c); err != nil {
		return nil, errUndecodable
	}
	return &c, nil
}

func (d *dispatcher) send(ctx context.Context, m store.OutboxMessage, c command) (ext, peerConv string, err error) {
	switch {
	case m.Destination == DestGenesys && m.Kind == KindMessage:
		p, err := d.cc.SendMessage(ctx, genesys.InboundMessage{
			MessageID: c.MessageID,
			// genesys.md §1.2: idType Phone for a WhatsApp number.
			From: genesys.Customer{ID: c.Customer, IDType: "Phone", Nickname: c.ProfileName},
			Time: c.Time,
			Text: c.Text,
		})
		return p.ID, p.ConversationID, err
	case m.Destination == DestGenesys && m.Kind == KindReceipt:
		return "", "", d.cc.SendReceipt(ctx, genesys.Receipt{MessageID: c.Target, To: genesys.Customer{ID: c.Customer, IDType: "Phone"},
			Status: c.Status, Reasons: c.Reasons, Time: c.Time})
	case m.Destination == DestWhatsApp && m.Kind == KindMessage:
		wm := whatsapp.Message{To: c.Customer, Text: c.Text, CallbackData: m.IdempotencyKey}
		if c.Form != nil {
			wm.Flow = &whatsapp.Flow{ID: c.Form.FlowID, Token: c.Form.Token, CTA: c.Form.CTA}
		}
		for _, b := range c.Buttons {
			wm.Buttons = append(wm.Buttons, whatsapp.Button(b))
		}
		id, err := d.ch.Send(ctx, wm)
		return id, "", err
	case m.Destination == DestWhatsApp && m.Kind == KindRead:
		return "", "", d.ch.MarkRead(ctx, c.Target)
	case m.Destination == DestGenesys && m.Kind == KindTransfer:
		return d.transfer(ctx, m, c)
	case m.Destination == DestGenesys && m.Kind == KindDisconnect:
		peer, err := d.peer(ctx, m.Conversation)
		if err != nil {
			return "", "", err
		}
		return "", "", d.control.Disconnect(ctx, peer)
	case m.Destination == DestGenesys && m.Kind == KindRelease:
		peer, err := d.peer(ctx, m.Conversation)
		if err != nil {
			return "", "", err
		}
		return "", "", d.control.ReleaseAgent(ctx, peer)
	case m.Destination == DestAction && d.actions != nil:
		return "", "", d.actions.RunAction(ctx, c.Action)
	default:
		return "", "", fmt.Errorf("relay: no route for %s/%s", m.Destination, m.Kind)
	}
}

// errNoPeer: the contact centre's conversation id is not known yet (no
// message of the conversation has been posted). It is retryable: the
// conversation's first inbound message reports it.
var errNoPeer = &peerError{}

type peerError struct{}

func (*peerError) Error() string             { return "relay: contact-centre conversation id not known yet" }
func (*peerError) Retryable() bool           { return true }
func (*peerError) RetryAfter() time.Duration { return 0 }

// peer returns the contact centre's id of a conversation.
func (d *dispatcher) peer(ctx context.Context, conversation string) (string, error) {
	if d.control == nil {
		return "", errors.New("relay: no contact-centre control configured")
	}
	conv, err := d.st.Conversation(ctx, conversation)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if conv.PeerConversationID == "" {
		return "", errNoPeer
	}
	return conv.PeerConversationID, nil
}

// transfer hands a conversation to a queue: by replacing the agent
// (genesys.md §3.1), or, without an agent to replace, by posting an
// inbound message whose custom attributes the inbound message flow routes
// on (genesys.md §1.2).
func (d *dispatcher) transfer(ctx context.Context, m store.OutboxMessage, c command) (string, string, error) {
	if d.control == nil {
		return "", "", errors.New("relay: no contact-centre control configured")
	}
	if c.ReplaceAgent {
		peer, err := d.peer(ctx, m.Conversation)
		if err != nil {
			return "", "", err
		}
		if c.Text != "" {
			if _, err := d.cc.SendMessage(ctx, genesys.InboundMessage{MessageID: c.MessageID,
				From: genesys.Customer{ID: c.Customer, IDType: "Phone"}, Time: c.Time, Text: c.Text}); err != nil {
				return "", "", err
			}
		}
		return "", "", d.control.TransferToQueue(ctx, peer, c.Queue)
	}
	p, err := d.control.PostWithAttributes(ctx, genesys.InboundMessage{MessageID: c.MessageID,
		From: genesys.Customer{ID: c.Customer, IDType: "Phone"}, Time: c.Time, Text: c.Text}, c.Attributes)
	return p.ID, p.ConversationID, err
}

// recordLoop batches successful deliveries into MarkDelivered calls.
func (d *dispatcher) recordLoop(wake func()) {
	for first := range d.done {
		batch := []store.Delivery{first}
		// Gather what completes within a short window into one
		// transaction; the window bounds the added latency.
		window := time.NewTimer(2 * time.Millisecond)
	fill:
		for len(batch) < 512 {
			select {
			case x, ok := <-d.done:
				if !ok {
					break fill
				}
				batch = append(batch, x)
			case <-window.C:
				break fill
			}
		}
		window.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := d.st.MarkDelivered(ctx, batch); err != nil {
			// The leases expire and the messages are resent with the same
			// idempotency keys: a duplicate the receiver drops, not a loss.
			d.log.Error("recording deliveries failed", "deliveries", len(batch), "error", err.Error())
		}
		cancel()
		wake()
	}
}
