package genesys_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

// A burst of thousands of agent messages uses a bounded number of
// goroutines: the delivery pool, not one goroutine per message.
func TestGoroutinesBounded(t *testing.T) {
	g := newGateway(t)
	e, srv := newEmulator(t, g)
	tok := token(t, srv)
	post(t, srv, tok, "message", message("m", "cust", "hi"))
	conv, _ := e.ConversationFor("cust")
	before := runtime.NumGoroutine()
	peak := 0
	for i := range 5000 {
		if _, err := e.SendAgentMessage(context.Background(), conv, "x"); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			peak = max(peak, runtime.NumGoroutine())
		}
	}
	waitIdle(t, e)
	if peak-before > 60 {
		t.Errorf("goroutines grew by %d during the burst", peak-before)
	}
	if s := e.Stats(); s.Delivered != 5000 {
		t.Errorf("delivered %d", s.Delivered)
	}
}

func BenchmarkInboundMessage(b *testing.B) {
	_, srv := newEmulator(b, nil)
	tok := token(b, srv)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if status, _, out := post(b, srv, tok, "message", message(fmt.Sprint("m", i), fmt.Sprint("c", i%500), "hello")); status != 200 {
				b.Fatalf("%d %v", status, out)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkAgentMessageDelivered(b *testing.B) {
	g := newGateway(b)
	e, srv := newEmulator(b, g)
	tok := token(b, srv)
	post(b, srv, tok, "message", message("m", "cust", "hi"))
	conv, _ := e.ConversationFor("cust")
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if _, err := e.SendAgentMessage(ctx, conv, "hello"); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
