package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/contactcenter/genesys"
)

// BenchmarkRelay measures the full path (signed webhook → SQLite inbox →
// processing → outbox → Genesys emulator) against the bare relay (verify
// and forward, no storage) in the same process, b.N messages each, 64
// concurrent senders over 1,000 conversations. The reported msg/s counts a
// message once the contact centre has it. `secureflow bench relay` is the
// fuller harness (latency at a fixed rate); see docs/benchmarks.md.
func BenchmarkRelay(b *testing.B) {
	ctx := context.Background()
	var bare http.Handler
	s, err := newStack(ctx, stackOptions{Addr: "127.0.0.1:0", DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler),
		Mount: func(mux *http.ServeMux) {
			mux.Handle("/bench/bare-relay", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { bare.ServeHTTP(w, r) }))
		}})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); s.Close() }()
	go s.Run(runCtx)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	tokens := genesys.NewTokenSource(s.cfg.Genesys.LoginURL, s.cfg.Genesys.ClientID, s.cfg.Genesys.ClientSecret.Value, hc, nil)
	bare = bareRelay(s.appSecret, genesys.NewClient(s.cfg.Genesys.APIURL, s.cfg.Genesys.IntegrationID, tokens, hc))
	run := 0
	b.Run("gateway", func(b *testing.B) {
		run++
		// Forwarded: the contact centre's count, read without querying
		// the store (see runRelayBench).
		want := s.GC.Stats().Received + int64(b.N)
		b.ResetTimer()
		closedLoop(ctx, loadTarget{url: s.URL() + "/webhooks/whatsapp", secret: s.appSecret, client: hc}, "", b.N, 1000, 64, fmt.Sprintf("g%d", run))
		for s.GC.Stats().Received < want {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		if err := waitRecorded(ctx, s.Store()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	})
	b.Run("bare-relay", func(b *testing.B) {
		run++
		closedLoop(ctx, loadTarget{url: s.URL() + "/bench/bare-relay", secret: s.appSecret, client: hc}, "", b.N, 1000, 64, fmt.Sprintf("b%d", run))
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	})
}

func TestRelayBenchMedian(t *testing.T) {
	round := func(gw, bare int) [2]runStats {
		return [2]runStats{{Messages: gw, Forwarded: time.Second}, {Messages: bare, Forwarded: time.Second}}
	}
	ratio := func(g, b runStats) float64 { return g.fwdRate() / b.fwdRate() }
	for _, tc := range []struct {
		name   string
		rounds [][2]runStats
		want   float64
	}{
		{"one round", [][2]runStats{round(40, 100)}, 0.4},
		{"odd: the middle value", [][2]runStats{round(60, 100), round(30, 100), round(45, 100)}, 0.45},
		{"even: the mean of the middle two", [][2]runStats{round(60, 100), round(30, 100), round(40, 100), round(50, 100)}, 0.45},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (relayBenchResult{Throughput: tc.rounds}).median(ratio); math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("median = %v, want %v", got, tc.want)
			}
		})
	}
}
