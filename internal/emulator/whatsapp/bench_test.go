package whatsapp_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/secureflow/secureflow/internal/emulator/whatsapp"
)

// A burst of thousands of customer messages uses a bounded number of
// goroutines: the delivery pool, not one goroutine per message.
func TestGoroutinesBounded(t *testing.T) {
	g := newGateway(t)
	e := newEmulator(t, g)
	before := runtime.NumGoroutine()
	peak := 0
	for i := range 5000 {
		if _, err := e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: strconv.Itoa(1000 + i%200), Text: "x"}); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			peak = max(peak, runtime.NumGoroutine())
		}
	}
	waitIdle(t, e)
	// Workers (8) plus the gateway's per-connection goroutines (about 2 per
	// connection on each side) and slack.
	if peak-before > 60 {
		t.Errorf("goroutines grew by %d during the burst", peak-before)
	}
	if s := e.Stats(); s.Delivered != 5000 {
		t.Errorf("delivered %d", s.Delivered)
	}
}

func BenchmarkCustomerMessageDelivered(b *testing.B) {
	g := newGateway(b)
	e := newEmulator(b, g)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := e.SendCustomerMessage(ctx, whatsapp.CustomerMessage{From: strconv.Itoa(1000 + i%500), Name: "N", Text: "hello"}); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkGraphSend(b *testing.B) {
	e := newEmulator(b, nil)
	srv := serve(b, e)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if status, _, out := graph(b, srv, accessToken, textSend); status != 200 {
				b.Fatalf("%d %v", status, out)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
}
