package relay_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/secureflow/secureflow/internal/channel/whatsapp"
	"github.com/secureflow/secureflow/internal/contactcenter/genesys"
	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/keyring"
	"github.com/secureflow/secureflow/internal/relay"
	"github.com/secureflow/secureflow/internal/retry"
	"github.com/secureflow/secureflow/internal/store"
	"github.com/secureflow/secureflow/internal/store/sqlite"
)

type failure struct {
	retryable bool
	after     time.Duration
}

func (f failure) Error() string             { return fmt.Sprintf("fake failure (retryable=%v)", f.retryable) }
func (f failure) Retryable() bool           { return f.retryable }
func (f failure) RetryAfter() time.Duration { return f.after }

// fakeCC records what the contact centre received; fail decides per call.
type fakeCC struct {
	mu       sync.Mutex
	got      map[string][]string // customer -> texts, first delivery only
	seen     map[string]int      // message id -> deliveries
	receipts []genesys.Receipt
	fail     func(m genesys.InboundMessage, n int) error
	calls    int
}

func newCC() *fakeCC { return &fakeCC{got: map[string][]string{}, seen: map[string]int{}} }

func (f *fakeCC) SendMessage(_ context.Context, m genesys.InboundMessage) (genesys.Posted, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		if err := f.fail(m, f.calls); err != nil {
			return genesys.Posted{}, err
		}
	}
	f.seen[m.MessageID]++
	if f.seen[m.MessageID] == 1 {
		f.got[m.From.ID] = append(f.got[m.From.ID], m.Text)
	}
	return genesys.Posted{ID: "g-" + m.MessageID, ConversationID: "conv-" + m.From.ID}, nil
}

func (f *fakeCC) SendReceipt(_ context.Context, r genesys.Receipt) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.receipts = append(f.receipts, r)
	return nil
}

func (f *fakeCC) texts(customer string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got[customer]...)
}

type fakeChannel struct {
	mu    sync.Mutex
	sent  []whatsapp.Message
	reads []string
}

func (f *fakeChannel) Send(_ context.Context, m whatsapp.Message) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	return fmt.Sprintf("wamid.out%d", len(f.sent)), nil
}

func (f *fakeChannel) MarkRead(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, id)
	return nil
}

type harness struct {
	r   *relay.Relay
	st  store.Store
	cc  *fakeCC
	ch  *fakeChannel
	m   *relay.Metrics
	now func() time.Time
}

func start(t *testing.T, cc *fakeCC, window time.Duration, giveUp time.Duration) *harness {
	t.Helper()
	return startWith(t, cc, window, giveUp)
}

// startWith starts a relay whose contact centre is cc (records in
// h.cc only when cc is a *fakeCC).
func startWith(t *testing.T, cc relay.ContactCenter, window time.Duration, giveUp time.Duration, tune ...func(*relay.Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	kek, _ := keyring.NewKEK()
	a, _ := keyring.ParseKEK(kek)
	sealer, err := keyring.LoadOrCreate(filepath.Join(dir, "keyset.json"), a)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{st: st, ch: &fakeChannel{}, m: relay.NewMetrics(prometheus.NewRegistry()), now: time.Now}
	h.cc, _ = cc.(*fakeCC)
	cfg := relay.Config{
		Store: st, Sealer: sealer, ContactCenter: cc, Channel: h.ch, Metrics: h.m,
		Logger: slog.New(slog.DiscardHandler), Workers: 16, ReorderWindow: window, RequestTimeout: 2 * time.Second,
		Backoff: retry.Backoff{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}, GiveUpAfter: giveUp,
		PollInterval: 5 * time.Millisecond,
	}
	for _, f := range tune {
		f(&cfg)
	}
	h.r, err = relay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { h.r.Run(context.Background()); close(done) }()
	t.Cleanup(func() {
		h.r.Close()
		<-done
		st.Close()
	})
	return h
}

func msg(customer string, i int, at time.Time) event.Event {
	return event.Event{Kind: event.CustomerMessage, Source: event.SourceWhatsApp, ID: fmt.Sprintf("wamid.%s.%d", customer, i),
		Customer: customer, ProfileName: "P", Time: at, Text: fmt.Sprintf("%s #%d", customer, i)}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOrderedOncePerConversation(t *testing.T) {
	cc := newCC()
	// Every fifth call fails retryably: order must survive retries.
	cc.fail = func(_ genesys.InboundMessage, n int) error {
		if n%5 == 0 {
			return failure{retryable: true}
		}
		return nil
	}
	h := start(t, cc, 0, time.Hour)
	const convs, per = 40, 25
	base := time.Now()
	var wg sync.WaitGroup
	for c := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cust := fmt.Sprintf("55119%05d", c)
			for i := range per {
				e := msg(cust, i, base.Add(time.Duration(i)*time.Second))
				// Every message is delivered twice, as Meta may.
				for range 2 {
					if err := h.r.Inbox().Accept(context.Background(), []event.Event{e}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for c := range convs {
		cust := fmt.Sprintf("55119%05d", c)
		eventually(t, "conversation "+cust, func() bool { return len(cc.texts(cust)) == per })
		for i, txt := range cc.texts(cust) {
			if want := fmt.Sprintf("%s #%d", cust, i); txt != want {
				t.Fatalf("%s: message %d = %q, want %q (order broken)", cust, i, txt, want)
			}
		}
	}
	if got := testutil.ToFloat64(h.m.InboxStored.WithLabelValues("whatsapp", "duplicate")); got != convs*per {
		t.Errorf("duplicates counted = %v, want %d", got, convs*per)
	}
	if testutil.ToFloat64(h.m.Retries.WithLabelValues("genesys")) == 0 {
		t.Error("no retry happened: the test did not exercise failures")
	}
}

func TestReorderWindow(t *testing.T) {
	cc := newCC()
	h := start(t, cc, 300*time.Millisecond, time.Hour)
	base := time.Now().Truncate(time.Second)
	// The channel delivers 3, 1, 2 (whatsapp.md §1.7: unordered).
	for _, i := range []int{3, 1, 2} {
		if err := h.r.Inbox().Accept(context.Background(), []event.Event{msg("c1", i, base.Add(time.Duration(i)*time.Second))}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "3 messages", func() bool { return len(cc.texts("c1")) == 3 })
	if got := fmt.Sprint(cc.texts("c1")); got != "[c1 #1 c1 #2 c1 #3]" {
		t.Fatalf("forwarded %s, want timestamp order", got)
	}
}

func TestPermanentFailureDeadLettersAndContinues(t *testing.T) {
	cc := newCC()
	cc.fail = func(m genesys.InboundMessage, _ int) error {
		if m.Text == "c1 #1" {
			return failure{retryable: false}
		}
		return nil
	}
	h := start(t, cc, 0, time.Hour)
	for i := range 3 {
		if err := h.r.Inbox().Accept(context.Background(), []event.Event{msg("c1", i, time.Now())}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "2 messages", func() bool { return len(cc.texts("c1")) == 2 })
	if got := fmt.Sprint(cc.texts("c1")); got != "[c1 #0 c1 #2]" {
		t.Fatalf("forwarded %s", got)
	}
	dl, err := h.st.DeadLetters(context.Background(), 10)
	if err != nil || len(dl) != 1 || dl[0].Destination != "genesys" {
		t.Fatalf("dead letters = %+v, %v", dl, err)
	}
	if testutil.ToFloat64(h.m.DeadLetters.WithLabelValues("genesys", "message")) != 1 {
		t.Fatal("dead letter not counted")
	}
}

func TestGiveUpAfterDeadline(t *testing.T) {
	cc := newCC()
	cc.fail = func(genesys.InboundMessage, int) error { return failure{retryable: true} }
	h := start(t, cc, 0, 100*time.Millisecond)
	if err := h.r.Inbox().Accept(context.Background(), []event.Event{msg("c1", 0, time.Now())}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "dead letter", func() bool {
		dl, _ := h.st.DeadLetters(context.Background(), 10)
		return len(dl) == 1
	})
}

func TestAgentMessagesAndReceipts(t *testing.T) {
	cc := newCC()
	h := start(t, cc, 0, time.Hour)
	ctx := context.Background()
	agent := event.Event{Kind: event.AgentMessage, Source: event.SourceGenesys, ID: "gmsg-1", Customer: "c1", Text: "How can I help?",
		Buttons: []event.Button{{ID: "y", Title: "Yes"}}, Time: time.Now()}
	if err := h.r.Inbox().Accept(ctx, []event.Event{agent}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "agent message sent", func() bool { h.ch.mu.Lock(); defer h.ch.mu.Unlock(); return len(h.ch.sent) == 1 })
	sent := h.ch.sent[0]
	if sent.To != "c1" || sent.Text != "How can I help?" || len(sent.Buttons) != 1 || sent.CallbackData != "genesys:gmsg-1" {
		t.Fatalf("sent = %+v", sent)
	}
	// WhatsApp reports read without delivered (whatsapp.md §1.5); the
	// status may arrive before the send is recorded.
	st := event.Event{Kind: event.CustomerStatus, Source: event.SourceWhatsApp, RefID: "wamid.out1", Status: "read", Customer: "c1", Time: time.Now()}
	if err := h.r.Inbox().Accept(ctx, []event.Event{st}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "receipt", func() bool { cc.mu.Lock(); defer cc.mu.Unlock(); return len(cc.receipts) == 1 })
	if r := cc.receipts[0]; r.MessageID != "gmsg-1" || r.Status != "Delivered" || r.To.ID != "c1" {
		t.Fatalf("receipt = %+v", r)
	}
	// A customer message, then Genesys reports the agent read it.
	if err := h.r.Inbox().Accept(ctx, []event.Event{msg("c1", 0, time.Now())}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "customer message", func() bool { return len(cc.texts("c1")) == 1 })
	// genesys.md §1.2: channel.messageId is the provider's id, the wamid;
	// Genesys' receipt echoes it.
	cc.mu.Lock()
	posted := cc.seen["wamid.c1.0"]
	cc.mu.Unlock()
	if posted != 1 {
		t.Fatalf("the customer message was not posted with its wamid as channel.messageId: %v", cc.seen)
	}
	read := event.Event{Kind: event.AgentReceipt, Source: event.SourceGenesys, ID: "r1", RefID: "wamid.c1.0", Status: "Read", Customer: "c1", Time: time.Now()}
	if err := h.r.Inbox().Accept(ctx, []event.Event{read}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "read mark", func() bool { h.ch.mu.Lock(); defer h.ch.mu.Unlock(); return len(h.ch.reads) == 1 })
	if h.ch.reads[0] != "wamid.c1.0" {
		t.Fatalf("read mark for %q", h.ch.reads[0])
	}
}

// busyCC holds each delivery a moment and records the most deliveries it
// saw in flight at once.
type busyCC struct {
	*fakeCC
	mu        sync.Mutex
	cur, peak int
	hold      time.Duration
}

func (b *busyCC) SendMessage(ctx context.Context, m genesys.InboundMessage) (genesys.Posted, error) {
	b.mu.Lock()
	b.cur++
	b.peak = max(b.peak, b.cur)
	b.mu.Unlock()
	time.Sleep(b.hold)
	b.mu.Lock()
	b.cur--
	b.mu.Unlock()
	return b.fakeCC.SendMessage(ctx, m)
}

// More lane heads than workers are leased and queued in memory, but no
// more than relay.workers (16 in the harness) are ever delivered at once.
func TestWorkersBoundDeliveriesInFlight(t *testing.T) {
	cc := &busyCC{fakeCC: newCC(), hold: 20 * time.Millisecond}
	h := startWith(t, cc, 0, time.Hour)
	const convs = 100
	var evs []event.Event
	for c := range convs {
		evs = append(evs, msg(fmt.Sprintf("55119%05d", c), 0, time.Now()))
	}
	if err := h.r.Inbox().Accept(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	for c := range convs {
		cust := fmt.Sprintf("55119%05d", c)
		eventually(t, "conversation "+cust, func() bool { return len(cc.texts(cust)) == 1 })
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.peak > 16 {
		t.Fatalf("deliveries in flight at once: %d, want at most relay.workers (16)", cc.peak)
	}
	if cc.peak < 2 {
		t.Fatalf("deliveries in flight at once: %d: the test did not exercise concurrency", cc.peak)
	}
}

// TestDirectDeliveryLeavesNoOutboxRow: a customer message forwarded as it
// is, on an empty lane, is delivered directly (see direct.go): its event is
// completed once Genesys has it, and nothing is written to the outbox. With
// QueueAll every message takes the outbox.
func TestDirectDeliveryLeavesNoOutboxRow(t *testing.T) {
	for _, tc := range []struct {
		name          string
		queueAll      bool
		wantDelivered int64
	}{{"direct", false, 0}, {"queue all", true, 6}} {
		t.Run(tc.name, func(t *testing.T) {
			cc := newCC()
			h := startWith(t, cc, 0, time.Hour, func(c *relay.Config) { c.QueueAll = tc.queueAll })
			ctx := context.Background()
			for i := range 6 {
				cust := fmt.Sprintf("c%d", i%3)
				if err := h.r.Inbox().Accept(ctx, []event.Event{msg(cust, i/3, time.Now())}); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, "6 messages and their events completed", func() bool {
				st, err := h.st.Stats(ctx)
				return err == nil && st.InboxPending == 0 && st.OutboxPending == 0 &&
					len(cc.texts("c0"))+len(cc.texts("c1"))+len(cc.texts("c2")) == 6
			})
			st, err := h.st.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.OutboxDelivered != tc.wantDelivered {
				t.Fatalf("outbox rows delivered = %d, want %d", st.OutboxDelivered, tc.wantDelivered)
			}
			for _, cust := range []string{"c0", "c1", "c2"} {
				if got, want := fmt.Sprint(cc.texts(cust)), fmt.Sprintf("[%s #0 %s #1]", cust, cust); got != want {
					t.Errorf("%s got %s, want %s", cust, got, want)
				}
			}
			// The contact centre's conversation id is remembered without a row.
			if c, err := h.st.Conversation(ctx, "c1"); err != nil || c.PeerConversationID != "conv-c1" {
				t.Fatalf("conversation c1 = %+v, %v", c, err)
			}
		})
	}
}

// gatedCC holds the sends of one customer until released.
type gatedCC struct {
	*fakeCC
	customer string
	entered  chan struct{} // a held send has started
	release  chan struct{}
}

func (g *gatedCC) SendMessage(ctx context.Context, m genesys.InboundMessage) (genesys.Posted, error) {
	if m.From.ID == g.customer {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		select {
		case <-g.release:
		case <-ctx.Done():
			return genesys.Posted{}, ctx.Err()
		}
	}
	return g.fakeCC.SendMessage(ctx, m)
}

// startHeld starts a relay whose contact centre holds customer's sends,
// sends customer's message #0 and returns once its send has started.
func startHeld(t *testing.T, customer string) (*gatedCC, *harness) {
	t.Helper()
	g := &gatedCC{fakeCC: newCC(), customer: customer, entered: make(chan struct{}, 1), release: make(chan struct{})}
	h := startWith(t, g, 0, time.Hour)
	if err := h.r.Inbox().Accept(context.Background(), []event.Event{msg(customer, 0, time.Now())}); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	return g, h
}

// TestDirectDeliveryHoldsTheConversation: while a conversation's message is
// in flight outside the outbox, its later events wait (parked in memory,
// pending in the store); other conversations go on.
func TestDirectDeliveryHoldsTheConversation(t *testing.T) {
	g, h := startHeld(t, "c1")
	ctx := context.Background()
	for i := 1; i < 5; i++ {
		if err := h.r.Inbox().Accept(ctx, []event.Event{msg("c1", i, time.Now()), msg("c2", i, time.Now())}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "c2 delivered while c1 waits", func() bool { return len(g.texts("c2")) == 4 })
	time.Sleep(50 * time.Millisecond) // processing passes run meanwhile
	if got := g.texts("c1"); len(got) != 0 {
		t.Fatalf("c1 delivered %v while its first message was in flight", got)
	}
	if st, err := h.st.Stats(ctx); err != nil || st.InboxPending != 5 {
		t.Fatalf("inbox pending = %+v, %v; want c1's 5 events pending while held", st, err)
	}
	close(g.release)
	eventually(t, "c1 delivered", func() bool { return len(g.texts("c1")) == 5 })
	if got := fmt.Sprint(g.texts("c1")); got != "[c1 #0 c1 #1 c1 #2 c1 #3 c1 #4]" {
		t.Fatalf("c1 got %s (order broken)", got)
	}
}

// TestCloseCompletesDirectDeliveries: a direct delivery in flight at a
// graceful stop finishes and its event is completed, so that the next
// start does not send it again.
func TestCloseCompletesDirectDeliveries(t *testing.T) {
	g, h := startHeld(t, "c1")
	ctx := context.Background()
	closed := make(chan struct{})
	go func() { h.r.Close(); close(closed) }()
	time.Sleep(20 * time.Millisecond)
	close(g.release)
	<-closed
	if got := g.texts("c1"); len(got) != 1 {
		t.Fatalf("delivered %v, want the message in flight", got)
	}
	if st, err := h.st.Stats(ctx); err != nil || st.InboxPending != 0 {
		t.Fatalf("after Close: %+v, %v; want its event completed", st, err)
	}
}
