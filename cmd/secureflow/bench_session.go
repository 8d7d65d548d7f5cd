package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/secureflow/secureflow/internal/config"
	gcemu "github.com/secureflow/secureflow/internal/emulator/genesys"
	waemu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
)

// benchLoopFlow is the flow `bench session` runs: a chat collect step that
// loops through set and switch until `replies` codes have been taken.
//
//go:embed testdata/bench/bench-loop.yaml
var benchLoopFlow []byte

// newBenchSessionCmd is `secureflow bench session`.
func newBenchSessionCmd(e *env) *cobra.Command {
	var o sessionBenchOptions
	cmd := &cobra.Command{
		Use:   "session",
		Short: "Customer reply → next prompt in a secure session, against the plain relay path, in the same run",
		Long: `Opens N secure sessions (one per customer, each started by the agent's
/secure command) on a flow whose chat collect step loops, and measures, for
each customer reply, the time from the webhook POST to the next prompt being
enqueued (the outbox row's created_at) and received by the WhatsApp
emulator. In the same run, N other customers send the same number of
messages on conversations without a session, measured from the webhook POST
to the message received by the Genesys emulator. Both are closed loops: a
customer sends its next message once the previous one has arrived.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := runSessionBench(cmd.Context(), o)
			if err != nil {
				return err
			}
			res.print(e.stdout)
			return nil
		},
	}
	cmd.Flags().IntVar(&o.Sessions, "sessions", 50, "concurrent sessions (and as many plain-relay conversations)")
	cmd.Flags().IntVar(&o.Replies, "replies", 20, "measured customer replies per session (and messages per plain conversation)")
	return cmd
}

// sessionBenchOptions configure runSessionBench.
type sessionBenchOptions struct {
	// Sessions is the number of concurrent sessions, and of plain
	// conversations on the relay path.
	Sessions int
	// Replies is the number of measured replies per customer.
	Replies int
	// DataDir holds the gateway's database (default: temporary).
	DataDir string
	// Logger receives the gateway's and emulators' logs (default: none).
	Logger *slog.Logger
	// code, when set, returns the 6-digit code a customer types; the tests
	// use it to plant canaries. Default: random.
	code func() string
	// inspect, when set, is called with the stack after the run, before it
	// is closed (the tests look at what each side received).
	inspect func(*stack)
}

// errBench is wrapped by every failure of the session benchmark's
// traffic (a message that did not arrive, a flow that answered
// unexpectedly).
var errBench = errors.New("bench session")

// phaseStats is what one measured phase collected: one latency per
// message, and the phase's wall time.
type phaseStats struct {
	Name    string
	Lat     []time.Duration
	Elapsed time.Duration
}

func (p phaseStats) pct(q float64) time.Duration { return percentile(slices.Clone(p.Lat), q) }

func (p phaseStats) rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(len(p.Lat)) / p.Elapsed.Seconds()
}

// sessionBenchResult is the outcome of runSessionBench.
type sessionBenchResult struct {
	Sessions, Replies int
	// Visible, Stamped and Received are the session step: to the next
	// prompt's outbox row first seen by a reader polling the store every
	// millisecond, to the row's created_at, and to the prompt's arrival at
	// the WhatsApp emulator.
	Visible, Stamped, Received phaseStats
	// Relay is the plain relay path, to the Genesys emulator.
	Relay phaseStats
}

// command is the command line that reproduces the result.
func (r sessionBenchResult) command() string {
	return fmt.Sprintf("go run ./cmd/secureflow bench session --sessions %d --replies %d", r.Sessions, r.Replies)
}

func (r sessionBenchResult) print(w io.Writer) {
	fmt.Fprintf(w, "secure sessions: %d × %d replies; plain conversations: %d × %d messages; same run\n\n",
		r.Sessions, r.Replies, r.Sessions, r.Replies)
	fmt.Fprintf(w, "%-52s %8s %10s %10s %10s %10s\n", "path (from the webhook POST)", "samples", "p50", "p95", "p99", "per s")
	for _, p := range []phaseStats{r.Visible, r.Stamped, r.Received, r.Relay} {
		fmt.Fprintf(w, "%-52s %8d %10s %10s %10s %10.0f\n", p.Name, len(p.Lat), p.pct(0.50).Round(10*time.Microsecond),
			p.pct(0.95).Round(10*time.Microsecond), p.pct(0.99).Round(10*time.Microsecond), p.rate())
	}
	ratio := func(a, b time.Duration) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	s, b := r.Received, r.Relay
	fmt.Fprintf(w, "\nsession / relay (prompt at WhatsApp / message at Genesys): p50 %.2f, p95 %.2f, p99 %.2f; throughput %.2f\n",
		ratio(s.pct(0.50), b.pct(0.50)), ratio(s.pct(0.95), b.pct(0.95)), ratio(s.pct(0.99), b.pct(0.99)), s.rate()/max(b.rate(), 1e-9))
	fmt.Fprintln(w, "row visible: first seen by a reader polling the outbox every millisecond (an upper bound);")
	fmt.Fprintln(w, "created_at: the processor's clock when it took the reply's batch, in whole milliseconds (a lower bound)")
	fmt.Fprintf(w, "command: %s\n", r.command())
}

// runSessionBench starts a stack running the benchmark flow, opens the
// sessions and the plain conversations, and measures both paths.
func runSessionBench(ctx context.Context, o sessionBenchOptions) (sessionBenchResult, error) {
	if o.Sessions < 1 || o.Replies < 1 {
		return sessionBenchResult{}, fmt.Errorf("%w: --sessions and --replies must be at least 1", errBench)
	}
	sb, err := startSessionBench(ctx, o)
	if err != nil {
		return sessionBenchResult{}, err
	}
	defer sb.Close()
	res := sessionBenchResult{Sessions: o.Sessions, Replies: o.Replies}
	plain, sessions := sb.customers(o.Sessions), sb.customers(o.Sessions)
	if err := sb.openConversations(ctx, append(slices.Clone(plain), sessions...)); err != nil {
		return res, err
	}
	// A short warm-up of both paths on customers of their own.
	warmPlain, warmSessions := sb.customers(4), sb.customers(4)
	if err := sb.openConversations(ctx, append(slices.Clone(warmPlain), warmSessions...)); err != nil {
		return res, err
	}
	if err := sb.openSessions(ctx, warmSessions, 3); err != nil {
		return res, err
	}
	if _, err := sb.runRelay(ctx, warmPlain, 3); err != nil {
		return res, err
	}
	if _, _, _, err := sb.runSessions(ctx, warmSessions, 3); err != nil {
		return res, err
	}

	if res.Relay, err = sb.runRelay(ctx, plain, o.Replies); err != nil {
		return res, err
	}
	if err := sb.openSessions(ctx, sessions, o.Replies); err != nil {
		return res, err
	}
	if res.Visible, res.Stamped, res.Received, err = sb.runSessions(ctx, sessions, o.Replies); err != nil {
		return res, err
	}
	if o.inspect != nil {
		o.inspect(sb.s)
	}
	return res, nil
}

// sessionBench is a running stack with the benchmark flow and a watcher
// of both emulators.
type sessionBench struct {
	s      *stack
	gw     loadTarget
	w      *emuWatcher
	ob     *outboxWatcher
	code   func() string
	cancel context.CancelFunc
	done   chan error
	rmDir  string

	mu       sync.Mutex
	next     int // customers handed out
	messages int // wamids handed out
}

// startSessionBench starts the stack; Close stops it.
func startSessionBench(ctx context.Context, o sessionBenchOptions) (*sessionBench, error) {
	sb := &sessionBench{code: o.code}
	if sb.code == nil {
		sb.code = randomCode
	}
	dir := o.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "secureflow-bench-session-")
		if err != nil {
			return nil, err
		}
		dir, sb.rmDir = d, d
	}
	flows := filepath.Join(dir, "bench-flows")
	if err := os.MkdirAll(flows, 0o700); err != nil {
		sb.removeDir()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(flows, "bench-loop.yaml"), benchLoopFlow, 0o600); err != nil {
		sb.removeDir()
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := newStack(ctx, stackOptions{
		Addr: "127.0.0.1:0", DataDir: dir, Logger: log, FlowsFromDisk: true,
		Tune: func(c *config.Config) {
			c.Sessions.Enabled = true
			c.Sessions.Flows = []string{flows}
			c.Sessions.Actions = "" // the flow calls no data action
		},
	})
	if err != nil {
		sb.removeDir()
		return nil, err
	}
	sb.s = s
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sb.cancel, sb.done = cancel, make(chan error, 1)
	go func() { sb.done <- s.Run(runCtx) }()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}, Timeout: 30 * time.Second}
	sb.gw = loadTarget{url: s.URL() + "/webhooks/whatsapp", secret: s.appSecret, client: hc}
	sb.w = newEmuWatcher(s.WA, s.GC)
	go sb.w.run(runCtx, time.Millisecond)
	if sb.ob, err = openOutboxWatcher(filepath.Join(dir, "secureflow.db")); err != nil {
		_ = sb.Close()
		return nil, err
	}
	go sb.ob.run(runCtx, time.Millisecond)
	return sb, nil
}

func (sb *sessionBench) removeDir() {
	if sb.rmDir != "" {
		_ = os.RemoveAll(sb.rmDir)
	}
}

// Close stops the stack and removes a temporary data directory.
func (sb *sessionBench) Close() error {
	sb.cancel()
	err := sb.s.Close()
	<-sb.done
	if sb.ob != nil {
		err = errors.Join(err, sb.ob.Close())
	}
	sb.removeDir()
	return err
}

// customers hands out n new customer wa_ids.
func (sb *sessionBench) customers(n int) []string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("5577%08d", sb.next)
		sb.next++
	}
	return out
}

func (sb *sessionBench) wamid() string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.messages++
	return fmt.Sprintf("wamid.bench%010d", sb.messages)
}

// send posts one signed webhook carrying text from customer, as Meta
// shapes it (whatsapp.md §1.2), and returns when the gateway acknowledged.
func (sb *sessionBench) send(ctx context.Context, customer, text string) error {
	body := textWebhookBody(customer, sb.wamid(), time.Now().Unix(), text)
	if err := sb.gw.post(ctx, body); err != nil {
		return fmt.Errorf("%w: webhook: %w", errBench, err)
	}
	return nil
}

// textWebhookBody is webhookBody with the text given; text must need no
// JSON escaping (the harness sends digits and plain words).
func textWebhookBody(customer, wamid string, ts int64, text string) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"` + demoPhoneNumberID + `"},"contacts":[{"profile":{"name":"Load Test"},"wa_id":"` + customer + `"}],"messages":[{"from":"` + customer + `","id":"` + wamid + `","timestamp":"` + fmt.Sprint(ts) + `","type":"text","text":{"body":"` + text + `"}}]}}]}]}`)
}

// waitTimeout bounds every wait for a message; under the defaults a step
// takes milliseconds.
const waitTimeout = 60 * time.Second

// forEach runs f for every customer concurrently and returns the first
// error.
func forEach(customers []string, f func(i int, c string) error) error {
	errs := make([]error, len(customers))
	var wg sync.WaitGroup
	for i, c := range customers {
		wg.Go(func() { errs[i] = f(i, c) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// openConversations has each customer say hello and waits until the
// contact centre has the conversation.
func (sb *sessionBench) openConversations(ctx context.Context, customers []string) error {
	return forEach(customers, func(_ int, c string) error {
		gc := sb.w.subscribeGC(c)
		if err := sb.send(ctx, c, "hello, this is "+c); err != nil {
			return err
		}
		_, err := gc.next(ctx, func(m gcemu.ReceivedMessage) bool { return m.Text == "hello, this is "+c })
		return err
	})
}

// openSessions has the agent of each customer start the benchmark flow
// for replies measured replies (plus the one that ends it), and waits for
// the first prompt.
func (sb *sessionBench) openSessions(ctx context.Context, customers []string, replies int) error {
	return forEach(customers, func(_ int, c string) error {
		conv, ok := sb.s.GC.ConversationFor(c)
		if !ok {
			return fmt.Errorf("%w: no conversation for %s", errBench, c)
		}
		wa := sb.w.subscribeWA(c)
		if _, err := sb.s.GC.SendAgentMessage(ctx, conv, fmt.Sprintf("/secure bench-loop replies=%d", replies+1)); err != nil {
			return fmt.Errorf("%w: agent command: %w", errBench, err)
		}
		_, err := wa.next(ctx, func(m waemu.SentMessage) bool { return strings.HasPrefix(m.Text, "Step 0:") })
		return err
	})
}

// runRelay has each customer send m messages on a conversation without a
// session, each once the previous one reached the contact centre, and
// measures webhook POST → received by the Genesys emulator.
func (sb *sessionBench) runRelay(ctx context.Context, customers []string, m int) (phaseStats, error) {
	lat := make([][]time.Duration, len(customers))
	start := time.Now()
	err := forEach(customers, func(i int, c string) error {
		gc := sb.w.subscribeGC(c)
		for k := range m {
			text := fmt.Sprintf("order status please, protocol %s-%d", c, k)
			t0 := time.Now()
			if err := sb.send(ctx, c, text); err != nil {
				return err
			}
			got, err := gc.next(ctx, func(r gcemu.ReceivedMessage) bool { return r.Text == text })
			if err != nil {
				return err
			}
			lat[i] = append(lat[i], got.ReceivedAt.Sub(t0))
		}
		return nil
	})
	return phaseStats{Name: "relay: message → received by Genesys (no session)", Lat: slices.Concat(lat...), Elapsed: time.Since(start)}, err
}

// runSessions has each customer answer m prompts of its open session, each
// once the previous prompt arrived, then the last reply that ends the
// session. It measures webhook POST → next prompt enqueued and received by
// the WhatsApp emulator.
func (sb *sessionBench) runSessions(ctx context.Context, customers []string, m int) (vis, enq, recv phaseStats, err error) {
	type sample struct {
		t0  time.Time
		key string // the prompt's outbox idempotency key
		at  time.Time
	}
	samples := make([][]sample, len(customers))
	ends := make([]time.Time, len(customers)) // the last measured prompt seen
	start := time.Now()
	err = forEach(customers, func(i int, c string) error {
		wa, gc := sb.w.subscribeWA(c), sb.w.subscribeGC(c)
		for k := range m {
			t0 := time.Now()
			if err := sb.send(ctx, c, sb.code()); err != nil {
				return err
			}
			want := fmt.Sprintf("Step %d:", k+1)
			got, err := wa.next(ctx, func(waemu.SentMessage) bool { return true })
			if err != nil {
				return err
			}
			if !strings.HasPrefix(got.Text, want) {
				// Not the prompt: the code was refused or the session ended.
				return fmt.Errorf("%w: customer %s, reply %d: the flow did not answer with the next prompt", errBench, c, k+1)
			}
			samples[i] = append(samples[i], sample{t0: t0, key: got.BizOpaqueCallbackData, at: got.Time})
		}
		ends[i] = time.Now()
		if err := sb.send(ctx, c, sb.code()); err != nil {
			return err
		}
		if _, err := wa.next(ctx, func(s waemu.SentMessage) bool { return strings.Contains(s.Text, "back to your agent") }); err != nil {
			return err
		}
		_, err := gc.next(ctx, func(r gcemu.ReceivedMessage) bool {
			return strings.Contains(r.Text, fmt.Sprintf("Secure session ended (captured): The customer entered %d codes.", m+1))
		})
		return err
	})
	// Throughput counts the measured replies only, not the closing one.
	elapsed := slices.MaxFunc(ends, time.Time.Compare).Sub(start)
	vis = phaseStats{Name: "session: reply → next prompt's outbox row visible", Elapsed: elapsed}
	enq = phaseStats{Name: "session: reply → next prompt's outbox created_at", Elapsed: elapsed}
	recv = phaseStats{Name: "session: reply → next prompt received by WhatsApp", Elapsed: elapsed}
	if err != nil {
		return vis, enq, recv, err
	}
	// The enqueue times are read after the phase, so that the reads do not
	// load the store during it.
	for _, ss := range samples {
		for _, s := range ss {
			recv.Lat = append(recv.Lat, s.at.Sub(s.t0))
			row, err := sb.s.Store().FindOutbox(ctx, "whatsapp", s.key)
			if err != nil {
				return vis, enq, recv, fmt.Errorf("%w: the prompt's outbox row: %w", errBench, err)
			}
			enq.Lat = append(enq.Lat, row.CreatedAt.Sub(s.t0))
			seen, ok := sb.ob.seenAt(s.key)
			if !ok {
				return vis, enq, recv, fmt.Errorf("%w: the outbox poller never saw a prompt's row", errBench)
			}
			vis.Lat = append(vis.Lat, seen.Sub(s.t0))
		}
	}
	return vis, enq, recv, nil
}

// randomCode returns a random 6-digit code (the flow's otp field).
func randomCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(900000))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return fmt.Sprintf("%06d", 100000+n.Int64())
}

// emuWatcher polls both emulators' transcripts from one goroutine and
// hands each new message to the customer's subscription. Latencies are
// taken from the emulators' own timestamps, so the polling interval delays
// the next send, not the measurement.
type emuWatcher struct {
	wa *waemu.Emulator
	gc *gcemu.Emulator

	mu     sync.Mutex
	waSeen int
	gcSeen int
	waSubs map[string]*subscription[waemu.SentMessage]
	gcSubs map[string]*subscription[gcemu.ReceivedMessage]
}

func newEmuWatcher(wa *waemu.Emulator, gc *gcemu.Emulator) *emuWatcher {
	return &emuWatcher{wa: wa, gc: gc, waSubs: map[string]*subscription[waemu.SentMessage]{},
		gcSubs: map[string]*subscription[gcemu.ReceivedMessage]{}}
}

// subscription is one customer's queue of messages, in arrival order.
type subscription[T any] struct {
	mu    sync.Mutex
	items []T
	ready chan struct{} // signalled when items grows
}

func newSubscription[T any]() *subscription[T] {
	return &subscription[T]{ready: make(chan struct{}, 1)}
}

func (s *subscription[T]) push(v T) {
	s.mu.Lock()
	s.items = append(s.items, v)
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// next removes and returns the first queued message that match accepts,
// dropping those before it, waiting up to waitTimeout.
func (s *subscription[T]) next(ctx context.Context, match func(T) bool) (T, error) {
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		for i, v := range s.items {
			if match(v) {
				s.items = s.items[i+1:]
				s.mu.Unlock()
				return v, nil
			}
		}
		s.items = s.items[:0]
		s.mu.Unlock()
		select {
		case <-s.ready:
		case <-timer.C:
			var zero T
			return zero, fmt.Errorf("%w: a message did not arrive within %s", errBench, waitTimeout)
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}

func (w *emuWatcher) subscribeWA(customer string) *subscription[waemu.SentMessage] {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.waSubs[customer]
	if !ok {
		s = newSubscription[waemu.SentMessage]()
		w.waSubs[customer] = s
	}
	return s
}

func (w *emuWatcher) subscribeGC(customer string) *subscription[gcemu.ReceivedMessage] {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.gcSubs[customer]
	if !ok {
		s = newSubscription[gcemu.ReceivedMessage]()
		w.gcSubs[customer] = s
	}
	return s
}

// run polls every interval until ctx ends. A transcript is read only when
// the emulator's counters moved.
func (w *emuWatcher) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastWA, lastGC int64 = -1, -1
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n := w.wa.Stats().Sent; n != lastWA {
			all := w.wa.Sent()
			lastWA = int64(len(all))
			w.mu.Lock()
			for _, m := range all[min(w.waSeen, len(all)):] {
				if s := w.waSubs[m.WaID]; s != nil {
					s.push(m)
				}
			}
			w.waSeen = len(all)
			w.mu.Unlock()
		}
		if n := w.gc.Stats().Received; n != lastGC {
			all := w.gc.Received()
			lastGC = int64(len(all))
			w.mu.Lock()
			for _, m := range all[min(w.gcSeen, len(all)):] {
				if s := w.gcSubs[m.FromID]; s != nil {
					s.push(m)
				}
			}
			w.gcSeen = len(all)
			w.mu.Unlock()
		}
	}
}

// outboxWatcher polls the gateway's SQLite outbox, on a read-only
// connection of its own, for rows to WhatsApp, and records when each was
// first seen. A row seen by a query that started at t was committed
// before t and after the previous query started: the time recorded is an
// upper bound, late by at most the polling interval plus one query. It
// reads the outbox table's columns directly (the store's interface has no
// way to list new rows), so it follows internal/store/sqlite's schema.
type outboxWatcher struct {
	db *sql.DB

	mu    sync.Mutex
	after int64                // highest id seen
	seen  map[string]time.Time // idempotency key → first seen
}

func openOutboxWatcher(path string) (*outboxWatcher, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("%w: outbox reader: %w", errBench, err)
	}
	db.SetMaxOpenConns(1)
	return &outboxWatcher{db: db, seen: map[string]time.Time{}}, nil
}

// Close closes the reader.
func (o *outboxWatcher) Close() error { return o.db.Close() }

func (o *outboxWatcher) seenAt(key string) (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t, ok := o.seen[key]
	return t, ok
}

// run polls every interval until ctx ends; a failed query is retried at
// the next tick (a missing row then fails the run).
func (o *outboxWatcher) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = o.poll(ctx)
	}
}

func (o *outboxWatcher) poll(ctx context.Context) error {
	at := time.Now()
	rows, err := o.db.QueryContext(ctx, `SELECT id, idempotency_key FROM outbox WHERE id > ? AND destination = 'whatsapp' ORDER BY id`, o.after)
	if err != nil {
		return err
	}
	defer rows.Close()
	o.mu.Lock()
	defer o.mu.Unlock()
	for rows.Next() {
		var id int64
		var key string
		if err := rows.Scan(&id, &key); err != nil {
			return err
		}
		o.after = max(o.after, id)
		if _, ok := o.seen[key]; !ok {
			o.seen[key] = at
		}
	}
	return rows.Err()
}
