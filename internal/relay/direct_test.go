package relay

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
	"github.com/secureflow/secureflow/internal/store/sqlite"
)

// heldCC records texts per customer, holding the first send until released.
type heldCC struct {
	mu      sync.Mutex
	got     map[string][]string
	first   sync.Once
	entered chan struct{}
	release chan struct{}
}

func (c *heldCC) SendMessage(ctx context.Context, m genesys.InboundMessage) (genesys.Posted, error) {
	held := false
	c.first.Do(func() { held = true })
	if held {
		close(c.entered)
		<-c.release
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[m.From.ID] = append(c.got[m.From.ID], m.Text)
	return genesys.Posted{ID: "g-" + m.MessageID, ConversationID: "conv-" + m.From.ID}, nil
}

func (c *heldCC) SendReceipt(context.Context, genesys.Receipt) error { return nil }

func (c *heldCC) texts(customer string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got[customer]...)
}

type nopChannel struct{}

func (nopChannel) Send(context.Context, whatsapp.Message) (string, error) { return "wamid.out", nil }
func (nopChannel) MarkRead(context.Context, string) error                 { return nil }

// TestParkedEventsSpillToTheStore: past the bound on parked events, a busy
// conversation's later events stay in the store, and once its delivery is
// settled they are read from there, all of them in order.
func TestParkedEventsSpillToTheStore(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	kek, _ := keyring.NewKEK()
	a, _ := keyring.ParseKEK(kek)
	sealer, err := keyring.LoadOrCreate(filepath.Join(dir, "keyset.json"), a)
	if err != nil {
		t.Fatal(err)
	}
	cc := &heldCC{got: map[string][]string{}, entered: make(chan struct{}), release: make(chan struct{})}
	r, err := New(Config{Store: st, Sealer: sealer, ContactCenter: cc, Channel: nopChannel{},
		Metrics: NewMetrics(prometheus.NewRegistry()), Logger: slog.New(slog.DiscardHandler), Workers: 4,
		PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r.proc.maxParked = 2
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { r.Close(); <-done; st.Close() })

	send := func(i int) {
		t.Helper()
		e := event.Event{Kind: event.CustomerMessage, Source: event.SourceWhatsApp, ID: fmt.Sprintf("wamid.c1.%d", i),
			Customer: "c1", Time: time.Now(), Text: fmt.Sprintf("c1 #%d", i)}
		if err := r.Inbox().Accept(ctx, []event.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	send(0)
	<-cc.entered
	for i := 1; i < 8; i++ {
		send(i)
	}
	// Let processing passes park two events and leave the rest.
	deadline := time.Now().Add(5 * time.Second)
	for {
		// The processor's state is its own goroutine's: read the store.
		s, err := st.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.InboxPending == 8 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := testutil.ToFloat64(r.cfg.Metrics.Parked); got != 2 {
		t.Fatalf("parked events = %v, want the bound, 2 (the other 5 stay in the store)", got)
	}
	close(cc.release)
	deadline = time.Now().Add(10 * time.Second)
	for len(cc.texts("c1")) < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %v, want 8", cc.texts("c1"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	want := "[c1 #0 c1 #1 c1 #2 c1 #3 c1 #4 c1 #5 c1 #6 c1 #7]"
	if got := fmt.Sprint(cc.texts("c1")); got != want {
		t.Fatalf("delivered %s, want %s", got, want)
	}
	if got := testutil.ToFloat64(r.cfg.Metrics.Parked); got != 0 {
		t.Fatalf("parked events after the run = %v, want 0", got)
	}
}
