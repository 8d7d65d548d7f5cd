package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/secureflow/secureflow/internal/flow"
)

// TestBenchSessionSmoke runs `bench session` small (3 sessions, 2
// replies) and checks it prints both rows, the ratio and the command (not
// the timings). The codes the customers type are canaries: they must
// reach the flow (every session ends having taken them) and appear in no
// output, log, contact-centre body, customer-facing message or database
// file in clear.
func TestBenchSessionSmoke(t *testing.T) {
	dir := t.TempDir()
	logs := &logBuffer{}
	var mu sync.Mutex
	var codes []string
	seen := map[string]bool{}
	next := func() string {
		mu.Lock()
		defer mu.Unlock()
		for {
			c := randomCode()
			if !seen[c] {
				seen[c] = true
				codes = append(codes, c)
				return c
			}
		}
	}
	var gcBodies, waTexts []byte
	summaries := map[int]int{} // codes taken → sessions
	o := sessionBenchOptions{Sessions: 3, Replies: 2, DataDir: dir, code: next,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		inspect: func(s *stack) {
			gcBodies = bytes.Join(s.GC.RawBodies(), []byte("\n"))
			for _, m := range s.GC.Received() {
				for _, n := range []int{3, 4} {
					if strings.Contains(m.Text, fmt.Sprintf("Secure session ended (captured): The customer entered %d codes.", n)) {
						summaries[n]++
					}
				}
			}
			for _, m := range s.WA.Sent() {
				waTexts = append(waTexts, m.Text+"\n"...)
				waTexts = append(waTexts, m.Interactive...)
			}
		}}
	res, err := runSessionBench(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.print(&out)
	t.Log("\n" + out.String())

	for _, want := range []string{
		"session: reply → next prompt's outbox row visible",
		"session: reply → next prompt's outbox created_at",
		"session: reply → next prompt received by WhatsApp",
		"relay: message → received by Genesys (no session)",
		"session / relay",
		"command: go run ./cmd/secureflow bench session --sessions 3 --replies 2",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	for _, p := range []phaseStats{res.Visible, res.Stamped, res.Received, res.Relay} {
		if len(p.Lat) != 3*2 {
			t.Errorf("%s: %d samples, want 6", p.Name, len(p.Lat))
		}
	}
	// The measured sessions took 2+1 codes each, the 4 warm-up sessions 3+1.
	if summaries[3] != 3 || summaries[4] != 4 {
		t.Fatalf("sessions ended having taken n codes: %v, want map[3:3 4:4]: the canaries may not have reached the flow", summaries)
	}
	if len(codes) != 3*3+4*4 {
		t.Fatalf("%d codes typed, want 25", len(codes))
	}
	sinks := map[string][]byte{
		"output":                    out.Bytes(),
		"logs":                      []byte(logs.String()),
		"contact-centre raw bodies": gcBodies,
		"customer-facing messages":  waTexts,
	}
	if len(logs.String()) == 0 || len(gcBodies) == 0 || len(waTexts) == 0 {
		t.Fatal("a sink is empty: the leak check would prove nothing")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sinks["file "+filepath.Base(f)] = b
		}
	}
	if _, ok := sinks["file secureflow.db"]; !ok {
		t.Fatal("database file not found: the leak check would search nothing")
	}
	for _, c := range codes {
		// A code counts as leaked when it stands alone, not inside a longer
		// number (a timestamp or a duration in the logs).
		re := regexp.MustCompile(`(^|[^0-9])` + c + `($|[^0-9])`)
		for sink, b := range sinks {
			if re.Match(b) {
				t.Errorf("a typed code leaked into %s", sink)
			}
		}
	}
}

// TestBenchLoopFlowLintsClean keeps the benchmark's flow loadable: the
// gateway refuses to start on a flow with errors, and the flow must not
// draw warnings either.
func TestBenchLoopFlowLintsClean(t *testing.T) {
	flows, ds := flow.LoadPaths(os.DirFS("testdata/bench"), []string{"bench-loop.yaml"}, flow.Options{})
	if len(ds) != 0 {
		t.Fatalf("diagnostics:\n%s", ds.String())
	}
	if len(flows) != 1 || flows[0].ID != "bench-loop" {
		t.Fatalf("loaded %d flows", len(flows))
	}
}

// BenchmarkSessionStep measures about b.N customer replies (rounded up
// to a multiple of 16) in secure sessions — webhook POST → next prompt
// received by the WhatsApp emulator, and, as enq-, → its outbox row seen
// by a reader polling every millisecond — against as many messages on the
// plain relay path (webhook POST → received by the Genesys emulator), in
// one process, 16 customers each, one message in flight per customer.
// Custom metrics: p50/p99 in ms and replies (messages) per second.
// `secureflow bench session` is the fuller harness; see
// docs/benchmarks.md.
func BenchmarkSessionStep(b *testing.B) {
	ctx := context.Background()
	sb, err := startSessionBench(ctx, sessionBenchOptions{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	const customers = 16
	perCustomer := func(n int) int { return max(1, (n+customers-1)/customers) }
	report := func(b *testing.B, p phaseStats, prefix string) {
		b.ReportMetric(float64(p.pct(0.50).Microseconds())/1000, prefix+"p50-ms")
		b.ReportMetric(float64(p.pct(0.99).Microseconds())/1000, prefix+"p99-ms")
	}
	b.Run("session", func(b *testing.B) {
		b.StopTimer()
		cs := sb.customers(customers)
		m := perCustomer(b.N)
		if err := sb.openConversations(ctx, cs); err != nil {
			b.Fatal(err)
		}
		if err := sb.openSessions(ctx, cs, m); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		vis, _, recv, err := sb.runSessions(ctx, cs, m)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		report(b, recv, "")
		report(b, vis, "enq-")
		b.ReportMetric(recv.rate(), "replies/s")
	})
	b.Run("relay", func(b *testing.B) {
		b.StopTimer()
		cs := sb.customers(customers)
		if err := sb.openConversations(ctx, cs); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		p, err := sb.runRelay(ctx, cs, perCustomer(b.N))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		report(b, p, "")
		b.ReportMetric(p.rate(), "replies/s")
	})
}
