package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/redact"
	"github.com/secureflow/secureflow/internal/store"
)

// unmatchedStatusGrace is how long a status or receipt about a message whose
// delivery is not yet recorded is kept waiting: WhatsApp can report "sent"
// before the send call that produced the wamid has been recorded.
const unmatchedStatusGrace = 2 * time.Minute

// processor turns inbox events into outbox messages.
type processor struct {
	st      store.Store
	sealer  Sealer
	now     func() time.Time
	window  time.Duration
	batch   int
	metrics *Metrics
	log     *slog.Logger
	wakeOut func()

	customer, agent Redactor
	sessions        Sessions

	// disp receives the messages claimed as they are enqueued, leased
	// for lease; cmds holds the current batch's commands by idempotency
	// key, so that they are not decoded again.
	disp  *dispatcher
	lease time.Duration
	cmds  map[string]*command

	// cursor skips events left pending on purpose (statuses waiting for
	// their message) so they cannot starve newer events; it rewinds when a
	// pass reaches the end of the inbox.
	cursor int64

	// Direct delivery (see direct.go): direct enables it; held are the
	// pending events memory owns (in flight or parked), which reads skip;
	// busy are the conversations with a direct delivery in flight, with
	// the events parked behind it (parked in all, at most maxParked);
	// results are the outcomes the workers report, and carry those a
	// failed commit left to complete again.
	direct    bool
	held      map[int64]struct{}
	busy      map[string]*busyConv
	parked    int
	maxParked int
	results   resultQueue
	carry     []directResult
}

// releasable orders events per conversation by their own timestamps (ties
// by acceptance) and keeps, per conversation, the prefix that ends with the
// last event whose reorder window has elapsed: an event is held for the
// window after it arrived, and any earlier-timestamped event that arrived
// meanwhile goes out before it (whatsapp.md §1.7: deliveries are unordered).
// It returns the releasable events and the lowest ID held back (0 if none).
func (p *processor) releasable(evs []store.InboxEvent, now time.Time) ([]store.InboxEvent, int64) {
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if a.Conversation != b.Conversation {
			return a.Conversation < b.Conversation
		}
		if !a.OccurredAt.Equal(b.OccurredAt) {
			return a.OccurredAt.Before(b.OccurredAt)
		}
		return a.ID < b.ID
	})
	if p.window <= 0 {
		return evs, 0
	}
	readyBefore := now.Add(-p.window)
	out := evs[:0:0]
	var held int64
	for i := 0; i < len(evs); {
		j := i
		for j < len(evs) && evs[j].Conversation == evs[i].Conversation {
			j++
		}
		end := i // one past the last releasable event of this conversation
		for k := i; k < j; k++ {
			if !evs[k].ReceivedAt.After(readyBefore) {
				end = k + 1
			}
		}
		out = append(out, evs[i:end]...)
		for k := end; k < j; k++ {
			if held == 0 || evs[k].ID < held {
				held = evs[k].ID
			}
		}
		i = j
	}
	return out, held
}

// runOnce processes one batch: the outcomes of direct deliveries that
// ended, the events parked behind them, and the next events read from the
// inbox. It reports more work ready when the read was full, or when a
// session step held back its conversation's later events for the next
// round (which must then come at once).
func (p *processor) runOnce(ctx context.Context) (bool, error) {
	clear(p.cmds)
	now := p.now()
	results := append(p.carry, p.results.take()...)
	p.carry = nil
	rows, err := p.st.PendingInbox(ctx, now, p.cursor, p.batch)
	if err != nil {
		p.carry = results
		return false, fmt.Errorf("relay: read inbox: %w", err)
	}
	if len(rows) == 0 && len(results) == 0 {
		p.cursor = 0
		return false, nil
	}
	read := len(rows)
	var last int64
	if read > 0 {
		last = rows[read-1].ID
	}
	full := read == p.batch
	next := int64(0) // rewind unless the batch was full
	if full {
		next = last
	}

	// A conversation whose direct delivery ended is free again: the
	// events parked behind it are processed now, with the new ones.
	var evs []store.InboxEvent
	stalled := map[string]bool{} // conversations whose next event must wait
	leftBehind := false          // an event stays pending in the store, to be read again
	rewind := false              // ... and a later one of its conversation must not overtake it
	settled := make(map[string]bool, len(results))
	for _, r := range results {
		conv := r.job.row.Conversation
		settled[conv] = true
		if b := p.busy[conv]; b != nil {
			if b.spilled {
				// Some of its events were left in the store: read them
				// all again from there, in order.
				stalled[conv], rewind = true, true
			} else {
				evs = append(evs, b.parked...)
			}
		}
	}
	for _, row := range rows {
		if _, ok := p.held[row.ID]; !ok {
			evs = append(evs, row)
		}
	}
	evs, held := p.releasable(evs, now)
	if held > 0 && (next == 0 || held-1 < next) {
		// Never move past an event held by the reorder window: a later
		// event of its conversation must not overtake it.
		next = held - 1
	}

	var done []store.Completion
	enqueued := map[string]bool{} // lanes given an outbox message in this batch
	for _, r := range results {
		c, err := p.settle(r, now)
		if err != nil {
			p.carry = results
			return false, err
		}
		done = append(done, c)
		for _, m := range c.Outbox {
			if m.DeadLetter == "" {
				enqueued[m.Lane] = true
			}
		}
	}
	lanes := p.pendingLanes(ctx, evs)
	var saved []store.SessionRecord
	var directs []directJob
	var parked []store.InboxEvent
	spilled := map[string]bool{}
	nowBusy := map[string]bool{} // conversations given a direct delivery in this batch
	busy := func(conv string) bool { return nowBusy[conv] || (p.busy[conv] != nil && !settled[conv]) }
	for _, row := range evs {
		conv := row.Conversation
		if stalled[conv] {
			continue
		}
		if busy(conv) {
			// Its conversation has a message in flight that is not in the
			// outbox: the event waits in memory until that one is settled.
			if p.parked+len(parked) < p.maxParked {
				parked = append(parked, row)
				continue
			}
			spilled[conv], stalled[conv], rewind = true, true, true
			continue
		}
		r, err := p.route(ctx, row, now)
		if errors.Is(err, errNotYet) {
			leftBehind = true
			continue
		}
		if errors.Is(err, errRetry) {
			// Later events of this conversation must not overtake it;
			// rescan from the start next round.
			stalled[conv], rewind = true, true
			continue
		}
		if err != nil {
			// An event that cannot be opened or decoded is a defect or
			// tampering, not a transient condition: count it, log ids,
			// and complete it so it cannot block its conversation.
			p.metrics.Processed.WithLabelValues("unknown", "undecodable").Inc()
			p.log.Error("inbox event cannot be processed", "inbox_id", row.ID, "source", row.Source, "error", err.Error())
			done = append(done, store.Completion{InboxID: row.ID})
			continue
		}
		if p.directOK(r, lanes, enqueued) {
			directs = append(directs, directJob{row: row, item: r.items[0], created: now})
			nowBusy[conv] = true
			continue
		}
		out, err := p.sealAll(conv, r.items)
		if err != nil {
			p.disp.release(len(directs))
			p.carry = results
			p.cursor = 0
			return false, err
		}
		for _, m := range out {
			enqueued[m.Lane] = true
		}
		c := store.Completion{InboxID: row.ID, Outbox: out}
		if r.rec != nil {
			c.Sessions = []store.SessionRecord{*r.rec}
			saved = append(saved, *r.rec)
			// The session's next event must see this state: hold the
			// conversation's later events for the next round.
			stalled[conv], rewind = true, true
		}
		done = append(done, c)
	}

	// Messages that head their lane are claimed as they are enqueued and
	// handed to the dispatcher with their commands, sparing the
	// dispatcher a claim transaction and a decode per message; the rest
	// wait in the outbox for the dispatcher's own claims.
	var claimed []store.OutboxMessage
	reserved := 0
	if len(done) > 0 {
		var outs int
		for _, c := range done {
			outs += len(c.Outbox)
		}
		reserved = p.disp.reserve(outs)
		claimed, err = p.st.CompleteAndClaim(ctx, now, done, store.Claim{Lease: p.lease, Limit: reserved})
		if err != nil {
			p.disp.release(reserved + len(directs))
			p.carry = results
			p.cursor = 0 // nothing was completed: rescan from the start, in order
			return false, fmt.Errorf("relay: complete inbox: %w", err)
		}
	}
	p.apply(results, directs, parked, spilled, nowBusy)
	for _, m := range claimed {
		p.disp.start(m, p.cmds[m.IdempotencyKey])
	}
	if reserved > len(claimed) {
		p.disp.release(reserved - len(claimed))
	}
	for _, j := range directs {
		p.disp.direct(j, p.results.add)
	}
	switch {
	case read == 0 || rewind:
		p.cursor = 0
	case held == 0 && !leftBehind:
		// Nothing was left behind: the next pass starts after this batch
		// rather than reading its events again (they stay pending in the
		// store until their completion is marked; those held in memory
		// are skipped).
		p.cursor = last
	default:
		p.cursor = next
	}
	if len(saved) > 0 {
		p.sessions.Committed(saved)
	}
	if len(done) > 0 {
		p.wakeOut()
	}
	return full || len(saved) > 0, nil
}

// errNotYet leaves a status or receipt pending without holding up its
// conversation; errRetry leaves a message pending and holds up the rest of
// its conversation, to keep order.
var (
	errNotYet = errors.New("not yet")
	errRetry  = errors.New("retry later")
)

func (p *processor) route(ctx context.Context, row store.InboxEvent, now time.Time) (routed, error) {
	pt, err := p.sealer.Open(row.Payload, inboxAD(row.Source, row.DedupeKey))
	if err != nil {
		return routed{}, err
	}
	var e event.Event
	if err := json.Unmarshal(pt, &e); err != nil {
		return routed{}, fmt.Errorf("decode event: %w", err)
	}
	var cmds []outItem
	plain := false
	switch e.Kind {
	case event.CustomerMessage:
		// A secure session sees the text as typed, before detection, so
		// that it can capture it; what it handles is never forwarded.
		if d, err := p.intercept(ctx, row, e, now); err != nil || d.Handled {
			return p.handled(e, d, now, err)
		}
		if e.Unsupported == "nfm_reply" {
			// A WhatsApp Flow's completion carries nothing but its flow
			// token (the form's values went to the data endpoint): it is
			// never forwarded to the contact centre.
			p.metrics.Processed.WithLabelValues(string(e.Kind), "flow_completion").Inc()
			return routed{}, nil
		}
		if err := p.redact(ctx, "customer", p.customer, &e); err != nil {
			return routed{}, err
		}
		cmds, plain = []outItem{customerMessage(e)}, true
	case event.AgentMessage:
		blocked := false
		if p.agent != nil && e.Text != "" {
			res, err := p.agent.Redact(ctx, e.Text)
			if err != nil {
				p.log.Warn("detection failed, will retry", "inbox_id", row.ID, "error", err.Error())
				return routed{}, errRetry
			}
			p.count("agent", res)
			e.Text, blocked = res.Text, res.Blocked
		}
		if blocked {
			cmds = []outItem{agentBlocked(e)}
			break
		}
		if d, err := p.intercept(ctx, row, e, now); err != nil || d.Handled {
			return p.handled(e, d, now, err)
		}
		cmds = []outItem{agentMessage(e)}
	case event.SessionSignal:
		d, err := p.intercept(ctx, row, e, now)
		if err == nil && !d.Handled {
			p.metrics.Processed.WithLabelValues(string(e.Kind), "ignored").Inc()
			return routed{}, nil
		}
		return p.handled(e, d, now, err)
	case event.CustomerStatus:
		it, err := p.customerStatus(ctx, e)
		if err != nil {
			return routed{}, p.unmatched(e, row, now, err)
		}
		cmds = it
	case event.AgentReceipt:
		it, err := p.agentReceipt(ctx, e)
		if err != nil {
			return routed{}, p.unmatched(e, row, now, err)
		}
		cmds = it
	default:
		return routed{}, fmt.Errorf("unknown event kind %q", e.Kind)
	}
	p.metrics.Processed.WithLabelValues(string(e.Kind), "ok").Inc()
	return routed{items: cmds, plain: plain}, nil
}

// routed is what an event produced: outbox items, and a session state to
// save with them. plain marks a customer message forwarded as it is, which
// may be delivered directly (see direct.go).
type routed struct {
	items []outItem
	rec   *store.SessionRecord
	plain bool
}

// intercept offers an event to the session engine.
func (p *processor) intercept(ctx context.Context, row store.InboxEvent, e event.Event, now time.Time) (Decision, error) {
	if p.sessions == nil {
		return Decision{}, nil
	}
	d, err := p.sessions.Intercept(ctx, Intercepted{InboxID: row.ID, Event: e, Now: now})
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("secure session step failed, will retry", "inbox_id", row.ID, "error", err.Error())
		}
		return Decision{}, errRetry
	}
	return d, nil
}

// handled turns a session decision into outbox items.
func (p *processor) handled(e event.Event, d Decision, now time.Time, err error) (routed, error) {
	if err != nil {
		return routed{}, err
	}
	if e.Kind == event.SessionSignal {
		p.metrics.Processed.WithLabelValues(string(e.Kind), "ok").Inc()
	} else {
		p.metrics.Processed.WithLabelValues(string(e.Kind), "secure_session").Inc()
	}
	items := make([]outItem, 0, len(d.Effects))
	for _, ef := range d.Effects {
		items = append(items, effectItem(e.Customer, ef, now))
	}
	return routed{items: items, rec: d.Session}, nil
}

func (p *processor) sealAll(conversation string, cmds []outItem) ([]store.OutboxMessage, error) {
	out := make([]store.OutboxMessage, 0, len(cmds))
	for _, c := range cmds {
		pt, err := json.Marshal(c.cmd)
		if err != nil {
			return nil, fmt.Errorf("encode command: %w", err)
		}
		ct, err := p.sealer.Seal(pt, outboxAD(c.key))
		if err != nil {
			return nil, fmt.Errorf("seal command: %w", err)
		}
		out = append(out, store.OutboxMessage{Lane: lane(c.dest, c.cmd.Customer), Destination: c.dest, Kind: c.kind,
			IdempotencyKey: c.key, Conversation: conversation, Ref: c.ref, Payload: ct})
		if p.cmds != nil {
			p.cmds[c.key] = &c.cmd
		}
	}
	return out, nil
}

// unmatched decides what to do with a status whose message is unknown:
// wait while it may still be recorded, then drop it (a status of a message
// the gateway did not send, or one already pruned).
func (p *processor) unmatched(e event.Event, row store.InboxEvent, now time.Time, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		if now.Sub(row.ReceivedAt) < unmatchedStatusGrace {
			return errNotYet
		}
		p.metrics.Processed.WithLabelValues(string(e.Kind), "unmatched").Inc()
		return nil
	}
	if errors.Is(err, errIgnored) {
		p.metrics.Processed.WithLabelValues(string(e.Kind), "ignored").Inc()
		return nil
	}
	return errNotYet // a store error: try again next round
}

var errIgnored = errors.New("ignored")

// Redactor applies the detection policy to text (see package redact).
type Redactor interface {
	Redact(ctx context.Context, text string) (redact.Result, error)
}

// redact rewrites a customer message's text under the policy. A failure
// (the vault unreachable) leaves the event pending: forwarding it
// unredacted is not an option.
func (p *processor) redact(ctx context.Context, direction string, r Redactor, e *event.Event) error {
	if r == nil || e.Text == "" {
		return nil
	}
	res, err := r.Redact(ctx, e.Text)
	if err != nil {
		p.log.Warn("detection failed, will retry", "direction", direction, "error", err.Error())
		return errRetry
	}
	p.count(direction, res)
	e.Text = res.Text
	if res.Blocked {
		e.Text = "[the customer sent a message that was withheld because it contained sensitive data]"
	}
	if e.Reply != nil && len(res.Findings) > 0 {
		e.Reply.Title = e.Text
	}
	return nil
}

func (p *processor) count(direction string, res redact.Result) {
	for _, f := range res.Findings {
		p.metrics.Detections.WithLabelValues(direction, string(f.Entity), string(f.Action)).Inc()
	}
}

// agentBlocked answers an agent message withheld by the detection policy
// with a Failed receipt, reason DataFiltered (genesys.md §1.5, §5.3), so
// the agent sees it was not delivered; nothing reaches the customer.
func agentBlocked(e event.Event) outItem {
	key := "blocked:" + e.ID
	return outItem{dest: DestGenesys, kind: KindReceipt, key: key, ref: e.ID,
		cmd: command{Customer: e.Customer, Target: e.ID, Status: "Failed", Reasons: []string{"DataFiltered"}, Time: e.Time}}
}

type outItem struct {
	dest, kind, key, ref string
	cmd                  command
}

func customerMessage(e event.Event) outItem {
	text := e.Text
	if e.Unsupported != "" {
		text = "[the customer sent a message of type " + e.Unsupported + ", which is not relayed]"
	}
	id := channelMessageID(e)
	return outItem{dest: DestGenesys, kind: KindMessage, key: id, ref: e.ID,
		cmd: command{Customer: e.Customer, ProfileName: e.ProfileName, Text: text, Time: e.Time, MessageID: id}}
}

func agentMessage(e event.Event) outItem {
	text := e.Text
	if e.Unsupported != "" && text == "" {
		text = "[the agent sent content of type " + e.Unsupported + ", which is not relayed]"
	}
	buttons := e.Buttons
	if len(buttons) > 3 { // whatsapp.md §2.2: at most 3 reply buttons
		buttons = nil
	}
	key := "genesys:" + e.ID
	return outItem{dest: DestWhatsApp, kind: KindMessage, key: key, ref: e.ID,
		cmd: command{Customer: e.Customer, Text: text, Buttons: buttons, Time: e.Time, MessageID: key}}
}

// customerStatus turns a WhatsApp status of a message the gateway sent into
// a Genesys receipt. genesys.md §1.5: only Delivered and Failed are
// accepted; whatsapp.md §1.5: "read" implies delivered and may arrive
// without "delivered", so both map to one Delivered receipt.
func (p *processor) customerStatus(ctx context.Context, e event.Event) ([]outItem, error) {
	var status string
	switch e.Status {
	case "sent":
		// Nothing for the agent; only a send whose answer was lost needs it.
		if err := p.recoverDelivery(ctx, e); err != nil {
			return nil, err
		}
		return nil, errIgnored
	case "delivered", "read":
		status = "Delivered"
	case "failed":
		status = "Failed"
	default:
		return nil, errIgnored
	}
	sent, err := p.st.FindOutbox(ctx, DestWhatsApp, e.RefID)
	if errors.Is(err, store.ErrNotFound) && e.CallbackData != "" {
		if err := p.recoverDelivery(ctx, e); err != nil {
			return nil, err
		}
		sent, err = p.st.FindOutbox(ctx, DestWhatsApp, e.RefID)
	}
	if err != nil {
		return nil, err
	}
	genesysID := sent.Ref
	if genesysID == "" {
		// A message the gateway wrote itself (a secure session's prompt):
		// there is no agent message to report on.
		return nil, errIgnored
	}
	key := "receipt:" + genesysID + ":" + status
	return []outItem{{dest: DestGenesys, kind: KindReceipt, key: key, ref: e.RefID,
		cmd: command{Customer: sent.Conversation, Target: genesysID, Status: status, Reasons: failureReasons(e.StatusCodes), Time: e.Time}}}, nil
}

// recoverDelivery records the send a status is about when that send is
// still pending: its answer was lost (the gateway crashed while it was in
// flight), and the status, which echoes the outbox key (§1.5), proves it
// happened, so it must not be sent again. Usually the send is recorded
// already, and this costs one read.
func (p *processor) recoverDelivery(ctx context.Context, e event.Event) error {
	if e.CallbackData == "" {
		return nil
	}
	m, err := p.st.FindOutbox(ctx, DestWhatsApp, e.CallbackData)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.Payload == nil || m.IdempotencyKey != e.CallbackData {
		return nil // delivered already, or the key matched another row's external id
	}
	ok, err := p.st.DeliverByKey(ctx, DestWhatsApp, e.CallbackData, e.RefID, p.now())
	if err != nil {
		return err
	}
	if ok {
		p.metrics.Processed.WithLabelValues(string(e.Kind), "delivery_recovered").Inc()
	}
	return nil
}

// failureReasons maps WhatsApp error codes (whatsapp.md §2.7) to Genesys
// receipt reason codes (genesys.md §1.5).
func failureReasons(codes []string) []string {
	var out []string
	for _, c := range codes {
		switch c {
		case "131050":
			out = append(out, "RecipientOptedOut")
		case "131026":
			out = append(out, "InvalidDestination")
		case "130429", "131056", "131048":
			out = append(out, "RateLimited")
		case "131047":
			out = append(out, "MessageExpired")
		case "131051":
			out = append(out, "UnsupportedMessage")
		default:
			out = append(out, "GeneralError")
		}
	}
	return out
}

// agentReceipt turns a Genesys "Read" receipt of a customer message into a
// WhatsApp read mark (whatsapp.md §2.8), so the customer sees blue ticks
// when the agent has read the message.
func (p *processor) agentReceipt(ctx context.Context, e event.Event) ([]outItem, error) {
	if e.Status != "Read" {
		return nil, errIgnored
	}
	if isWAMID(e.RefID) {
		// A customer message's channel.messageId is its WhatsApp id
		// (channelMessageID): the receipt names the message to mark read
		// without a lookup (a directly delivered message has no row).
		key := "read:" + e.RefID
		return []outItem{{dest: DestWhatsApp, kind: KindRead, key: key, ref: e.RefID,
			cmd: command{Customer: e.Customer, Target: e.RefID, Time: e.Time}}}, nil
	}
	posted, err := p.st.FindOutbox(ctx, DestGenesys, e.RefID)
	if err != nil {
		return nil, err
	}
	if posted.Kind != KindMessage {
		return nil, errIgnored
	}
	wamid := posted.Ref
	if wamid == "" {
		return nil, errIgnored // a note the gateway posted, not a customer message
	}
	key := "read:" + wamid
	return []outItem{{dest: DestWhatsApp, kind: KindRead, key: key, ref: wamid,
		cmd: command{Customer: posted.Conversation, Target: wamid, Time: e.Time}}}, nil
}
