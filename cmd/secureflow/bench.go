package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/secureflow/secureflow/internal/channel/whatsapp"
	"github.com/secureflow/secureflow/internal/config"
	"github.com/secureflow/secureflow/internal/contactcenter/genesys"
	"github.com/secureflow/secureflow/internal/hubsig"
	"github.com/secureflow/secureflow/internal/store"
)

func newBenchCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the gateway: relay throughput and latency, idle memory",
	}
	var o relayBenchOptions
	var cpuProfile string
	relayCmd := &cobra.Command{
		Use:   "relay",
		Short: "Full path on SQLite against a bare relay (verify + forward, no storage), in the same run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			res, err := runRelayBench(cmd.Context(), o)
			if err != nil {
				return err
			}
			res.print(e.stdout)
			return nil
		},
	}
	relayCmd.Flags().IntVar(&o.Messages, "messages", 20000, "messages in each throughput run")
	relayCmd.Flags().IntVar(&o.Rounds, "rounds", 3, "throughput rounds, each a gateway run then a bare-relay run")
	relayCmd.Flags().IntVar(&o.Conversations, "conversations", 1000, "distinct conversations")
	relayCmd.Flags().IntVar(&o.Concurrency, "concurrency", 64, "concurrent webhook senders in the throughput run")
	relayCmd.Flags().IntVar(&o.Workers, "workers", 64, "the gateway's relay.workers (deliveries in flight)")
	relayCmd.Flags().IntVar(&o.Rate, "rate", 1000, "messages per second in the latency run")
	relayCmd.Flags().DurationVar(&o.Duration, "duration", 10*time.Second, "length of the latency run")
	relayCmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")

	var idle idleBenchOptions
	idleCmd := &cobra.Command{
		Use:   "idle",
		Short: "Resident memory of a gateway whose store holds many idle conversations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runIdleBench(cmd.Context(), e.stdout, idle)
		},
	}
	idleCmd.Flags().IntVar(&idle.Conversations, "conversations", 100000, "idle conversations to create")
	idleCmd.Flags().StringVar(&idle.DataDir, "data-dir", "", "directory to keep the database in (default: temporary)")
	cmd.AddCommand(relayCmd, idleCmd, newBenchSessionCmd(e))
	return cmd
}

type relayBenchOptions struct {
	Messages, Conversations, Concurrency, Rate, Workers, Rounds int
	Duration                                                    time.Duration
	// DataDir holds the gateway's database (default: temporary).
	DataDir string
}

// runStats is what one load run measured.
type runStats struct {
	Name       string
	Messages   int
	Elapsed    time.Duration // until the last acknowledgement
	Forwarded  time.Duration // until the contact centre had every message
	P50, P99   time.Duration // acknowledgement latency
	Errors     int
	TargetRate int
	// CPU is the process's CPU time (user + system) over the run, load
	// generator and emulators included, the same for every run.
	CPU time.Duration
}

// cpuPerMessage is the process CPU time spent per message.
func (r runStats) cpuPerMessage() time.Duration { return r.CPU / time.Duration(max(r.Messages, 1)) }

// processCPU is the CPU time the process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (r runStats) ackRate() float64 { return float64(r.Messages) / r.Elapsed.Seconds() }
func (r runStats) fwdRate() float64 { return float64(r.Messages) / r.Forwarded.Seconds() }

type relayBenchResult struct {
	Throughput [][2]runStats // per round: gateway, bare
	Latency    [2]runStats
}

// median returns the median of the per-round values of f.
func (r relayBenchResult) median(f func(g, b runStats) float64) float64 {
	v := make([]float64, len(r.Throughput))
	for i, t := range r.Throughput {
		v[i] = f(t[0], t[1])
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

func (r relayBenchResult) print(w io.Writer) {
	fmt.Fprintf(w, "%-34s %10s %12s %12s %10s %10s %9s %7s\n", "run", "messages", "acked/s", "forwarded/s", "p50 ack", "p99 ack", "CPU/msg", "errors")
	var runs []runStats
	for _, t := range r.Throughput {
		runs = append(runs, t[:]...)
	}
	for _, s := range append(runs, r.Latency[:]...) {
		cpu := "-" // not measured in the latency runs
		if s.CPU > 0 {
			cpu = s.cpuPerMessage().Round(time.Microsecond).String()
		}
		fmt.Fprintf(w, "%-34s %10d %12.0f %12.0f %10s %10s %9s %7d\n", s.Name, s.Messages, s.ackRate(), s.fwdRate(),
			s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), cpu, s.Errors)
	}
	fmt.Fprintln(w)
	for i, t := range r.Throughput {
		g, b := t[0], t[1]
		fmt.Fprintf(w, "round %d: sustained throughput, gateway / bare relay: %.0f / %.0f msg/s = %.2f; CPU per message: %s / %s = %.2f\n", i+1,
			g.fwdRate(), b.fwdRate(), g.fwdRate()/b.fwdRate(),
			g.cpuPerMessage().Round(time.Microsecond), b.cpuPerMessage().Round(time.Microsecond), float64(g.cpuPerMessage())/float64(b.cpuPerMessage()))
	}
	fmt.Fprintf(w, "sustained throughput, gateway / bare relay, median of %d rounds: %.2f\n", len(r.Throughput),
		r.median(func(g, b runStats) float64 { return g.fwdRate() / b.fwdRate() }))
	fmt.Fprintf(w, "CPU per message (load generator and emulators included), gateway / bare relay, median: %.2f\n",
		r.median(func(g, b runStats) float64 { return float64(g.cpuPerMessage()) / float64(b.cpuPerMessage()) }))
	lg, lb := r.Latency[0], r.Latency[1]
	fmt.Fprintf(w, "p99 acknowledgement at %d msg/s, gateway / bare relay: %s / %s = %.2f\n", lg.TargetRate,
		lg.P99.Round(10*time.Microsecond), lb.P99.Round(10*time.Microsecond), float64(lg.P99)/float64(lb.P99))
}

// webhookBody builds one signed-ready notification carrying one text
// message, exactly as Meta shapes it (whatsapp.md §1.2).
func webhookBody(customer, wamid string, ts int64) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"` + demoPhoneNumberID + `"},"contacts":[{"profile":{"name":"Load Test"},"wa_id":"` + customer + `"}],"messages":[{"from":"` + customer + `","id":"` + wamid + `","timestamp":"` + strconv.FormatInt(ts, 10) + `","type":"text","text":{"body":"order status please, protocol 2026-` + wamid[len(wamid)-6:] + `"}}]}}]}]}`)
}

// loadTarget is a webhook endpoint under test.
type loadTarget struct {
	url    string
	secret []byte
	client *http.Client
}

func (t loadTarget) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(hubsig.Header, hubsig.Sign(hubsig.Hex, t.secret, body))
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(p * float64(len(d)-1))
	return d[i]
}

// closedLoop sends n messages with c concurrent senders as fast as the
// target acknowledges.
func closedLoop(ctx context.Context, t loadTarget, name string, n, convs, c int, prefix string) runStats {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var errs atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				body := webhookBody(fmt.Sprintf("55%09d", i%convs), fmt.Sprintf("wamid.%s%08d", prefix, i), time.Now().Unix())
				t0 := time.Now()
				if err := t.post(ctx, body); err != nil {
					errs.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	return runStats{Name: name, Messages: n, Elapsed: el, Forwarded: el, P50: percentile(lat, 0.50), P99: percentile(lat, 0.99), Errors: int(errs.Load())}
}

// openLoop sends at a fixed rate for d; latency is measured from each
// message's scheduled send time, so a stalled server cannot hide its stall
// by slowing the generator down (no coordinated omission).
func openLoop(ctx context.Context, t loadTarget, name string, rate int, d time.Duration, convs int, prefix string) runStats {
	n := int(float64(rate) * d.Seconds())
	lat := make([]time.Duration, n)
	var errs atomic.Int64
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 512)
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			body := webhookBody(fmt.Sprintf("56%09d", i%convs), fmt.Sprintf("wamid.%s%08d", prefix, i), time.Now().Unix())
			if err := t.post(ctx, body); err != nil {
				errs.Add(1)
			}
			lat[i] = time.Since(due)
		}()
	}
	wg.Wait()
	el := time.Since(start)
	return runStats{Name: name, Messages: n, Elapsed: el, Forwarded: el, P50: percentile(lat, 0.50), P99: percentile(lat, 0.99),
		Errors: int(errs.Load()), TargetRate: rate}
}

// bareRelay is the baseline: verify the signature, parse, forward to the
// contact centre synchronously, acknowledge. No storage, no encryption, no
// ordering guarantees beyond the sender's.
func bareRelay(secret []byte, gc *genesys.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if err := hubsig.Verify(hubsig.Hex, r.Header.Get(hubsig.Header), body, secret); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		evs, err := whatsapp.Parse(body)
		if err != nil {
			http.Error(w, "malformed", http.StatusBadRequest)
			return
		}
		for _, e := range evs {
			if _, err := gc.SendMessage(r.Context(), genesys.InboundMessage{MessageID: e.ID, From: genesys.Customer{ID: e.Customer, IDType: "Phone", Nickname: e.ProfileName},
				Time: e.Time, Text: e.Text}); err != nil {
				http.Error(w, "forward failed", http.StatusBadGateway)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	})
}

func runRelayBench(ctx context.Context, o relayBenchOptions) (relayBenchResult, error) {
	dir := o.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "secureflow-bench-")
		if err != nil {
			return relayBenchResult{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var bare http.Handler
	s, err := newStack(ctx, stackOptions{
		Addr: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler),
		Tune: func(c *config.Config) { c.Relay.Workers = o.Workers },
		Mount: func(mux *http.ServeMux) {
			mux.Handle("/bench/bare-relay", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { bare.ServeHTTP(w, r) }))
		},
	})
	if err != nil {
		return relayBenchResult{}, err
	}
	defer s.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.Run(runCtx)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 1024}, Timeout: 30 * time.Second}
	tokens := genesys.NewTokenSource(s.cfg.Genesys.LoginURL, s.cfg.Genesys.ClientID, s.cfg.Genesys.ClientSecret.Value, hc, nil)
	bare = bareRelay(s.appSecret, genesys.NewClient(s.cfg.Genesys.APIURL, s.cfg.Genesys.IntegrationID, tokens, hc))
	gw := loadTarget{url: s.URL() + "/webhooks/whatsapp", secret: s.appSecret, client: hc}
	br := loadTarget{url: s.URL() + "/bench/bare-relay", secret: s.appSecret, client: hc}

	// A message counts as forwarded once the contact centre has it: the
	// emulator's running count, read without touching the store (counting
	// outbox rows while the backlog drains would charge the gateway for
	// the harness's own queries).
	waitForwarded := func(want int64) error {
		deadline := time.Now().Add(10 * time.Minute)
		for {
			got := s.GC.Stats().Received
			if got >= want {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("only %d of %d messages forwarded", got, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	var res relayBenchResult
	// Warm up both paths (connections, token, SQLite pages).
	closedLoop(ctx, br, "warm-up", 500, o.Conversations, o.Concurrency, "w1")
	closedLoop(ctx, gw, "warm-up", 500, o.Conversations, o.Concurrency, "w2")
	if err := waitForwarded(1000); err != nil { // both warm-ups
		return res, err
	}

	// Rounds alternate the two runs, so that each ratio compares runs a
	// few seconds apart: on a shared machine the speed drifts between
	// minutes.
	for round := range max(o.Rounds, 1) {
		start, cpu0 := time.Now(), processCPU()
		delivered := s.GC.Stats().Received + int64(o.Messages)
		g := closedLoop(ctx, gw, fmt.Sprintf("gateway (SQLite) max throughput #%d", round+1), o.Messages, o.Conversations, o.Concurrency, fmt.Sprintf("t%dg", round))
		if err := waitForwarded(delivered); err != nil {
			return res, err
		}
		g.Forwarded, g.CPU = time.Since(start), processCPU()-cpu0
		if err := waitRecorded(ctx, s.Store()); err != nil {
			return res, err
		}
		cpu0 = processCPU()
		b := closedLoop(ctx, br, fmt.Sprintf("bare relay max throughput #%d", round+1), o.Messages, o.Conversations, o.Concurrency, fmt.Sprintf("t%db", round))
		b.CPU = processCPU() - cpu0
		res.Throughput = append(res.Throughput, [2]runStats{g, b})
	}

	delivered := s.GC.Stats().Received // the bare relay forwards before it answers
	lg := openLoop(ctx, gw, fmt.Sprintf("gateway (SQLite) at %d msg/s", o.Rate), o.Rate, o.Duration, o.Conversations, "l1")
	start := time.Now()
	delivered += int64(lg.Messages)
	if err := waitForwarded(delivered); err != nil {
		return res, err
	}
	lg.Forwarded = lg.Elapsed + time.Since(start)
	lb := openLoop(ctx, br, fmt.Sprintf("bare relay at %d msg/s", o.Rate), o.Rate, o.Duration, o.Conversations, "l2")
	res.Latency = [2]runStats{lg, lb}
	return res, nil
}

// waitRecorded waits until the gateway has completed every event and
// recorded every delivery, so that its trailing writes are not charged to
// the next run.
func waitRecorded(ctx context.Context, st store.Store) error {
	for {
		s, err := st.Stats(ctx)
		if err != nil {
			return err
		}
		if s.InboxPending == 0 && s.OutboxPending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type idleBenchOptions struct {
	Conversations int
	DataDir       string
}

// runIdleBench fills a store with idle conversations (each with one
// message relayed each way, as a real conversation leaves behind), then
// starts a fresh gateway process on it, relays a few messages, and reports
// that process's resident memory.
func runIdleBench(ctx context.Context, w io.Writer, o idleBenchOptions) error {
	dir := o.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "secureflow-idle-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	fmt.Fprintf(w, "seeding %d conversations in %s …\n", o.Conversations, dir)
	s, err := newStack(ctx, stackOptions{Addr: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	go s.Run(runCtx)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	gw := loadTarget{url: s.URL() + "/webhooks/whatsapp", secret: s.appSecret, client: hc}
	received := s.GC.Stats().Received
	st := closedLoop(ctx, gw, "seed", o.Conversations, o.Conversations, 64, "seed")
	// Seeded once the contact centre has every message and every event is
	// completed (a message delivered directly leaves no outbox row).
	deadline := time.Now().Add(10 * time.Minute)
	for {
		stats, err := s.Store().Stats(ctx)
		if err != nil {
			cancel()
			s.Close()
			return err
		}
		if s.GC.Stats().Received-received >= int64(o.Conversations) && stats.InboxPending == 0 && stats.OutboxPending == 0 {
			fmt.Fprintf(w, "seeded: %d conversations, %d inbox rows, %d outbox rows (%d errors)\n",
				stats.Conversations, stats.InboxDone, stats.OutboxDelivered, st.Errors)
			break
		}
		if time.Now().After(deadline) {
			cancel()
			s.Close()
			return fmt.Errorf("seeding: %d of %d messages forwarded, %d events pending", s.GC.Stats().Received-received,
				o.Conversations, stats.InboxPending)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := s.Close(); err != nil {
		return err
	}

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	child := exec.CommandContext(ctx, exe, "demo", "--data-dir", dir, "--addr", "127.0.0.1:"+port)
	child.Stdout, child.Stderr = io.Discard, io.Discard
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	base := "http://127.0.0.1:" + port
	if err := waitReady(ctx, base); err != nil {
		return err
	}
	// Traffic on a sample of the idle conversations, through the emulator.
	for i := 0; i < 1000; i++ {
		body := fmt.Sprintf(`{"from":"55%09d","name":"Idle","text":"still there?"}`, i*(o.Conversations/1000))
		resp, err := hc.Post(base+"/emulator/whatsapp/customer-messages", "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		resp.Body.Close()
	}
	time.Sleep(2 * time.Second)
	rss, err := processRSS(child.Process.Pid)
	if err != nil {
		return err
	}
	fi, _ := os.Stat(filepath.Join(dir, "secureflow.db"))
	var dbSize int64
	if fi != nil {
		dbSize = fi.Size()
	}
	fmt.Fprintf(w, "gateway process RSS with %d idle conversations in the store (database %.1f MB): %.1f MB\n",
		o.Conversations, float64(dbSize)/1e6, float64(rss)/1e6)
	return nil
}

func freePort() (string, error) {
	ln, err := netListen("127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ := strings.Cut(ln.Addr().String(), ":")
	return port, nil
}

func waitReady(ctx context.Context, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("gateway did not become ready")
}

// processRSS reads a process's resident set size from /proc (Linux).
func processRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("VmRSS not found")
}
