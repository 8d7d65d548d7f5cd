package emulate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errTestClosed = errors.New("test dispatcher closed")

// recorder collects the attempts a dispatcher reports.
type recorder struct {
	mu       sync.Mutex
	attempts []Attempt
}

func (r *recorder) record(a Attempt) {
	r.mu.Lock()
	r.attempts = append(r.attempts, a)
	r.mu.Unlock()
}

func (r *recorder) outcomes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, a := range r.attempts {
		out = append(out, a.Outcome)
	}
	return out
}

func newTestDispatcher(t *testing.T, url string, rec *recorder, retries int, workers int) *Dispatcher {
	t.Helper()
	d := NewDispatcher(DispatchConfig{
		Client:  DefaultClient(),
		Timeout: 5 * time.Second,
		Queue:   16,
		Logger:  slog.New(slog.DiscardHandler),
		URL:     func() string { return url },
		Header:  func(h http.Header, j *Job) { h.Set("X-Signature", j.Signature) },
		Success: func(status int) bool { return status == http.StatusOK },
		Retry: func(attempt, _ int, _ error) (time.Duration, bool) {
			return time.Millisecond, attempt <= retries
		},
		Record: rec.record,
		Closed: errTestClosed,
	}, workers)
	t.Cleanup(d.Close)
	return d
}

func waitIdle(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
}

func TestDispatcherRetriesUntilDelivered(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Signature") != "sig" {
			t.Errorf("signature header = %q", r.Header.Get("X-Signature"))
		}
		if b, _ := io.ReadAll(r.Body); string(b) != "body" {
			t.Errorf("body = %q", b)
		}
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	rec := &recorder{}
	d := newTestDispatcher(t, srv.URL, rec, 5, 1)
	if err := d.Submit(context.Background(), &Job{ID: 1, Body: []byte("body"), Signature: "sig"}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, d)
	if got := rec.outcomes(); !slices.Equal(got, []string{OutcomeRetrying, OutcomeRetrying, OutcomeDelivered}) {
		t.Fatalf("outcomes = %v", got)
	}
	for i, a := range rec.attempts {
		if a.Number != i+1 || a.Job.ID != 1 {
			t.Errorf("attempt %d: number %d, job %d", i, a.Number, a.Job.ID)
		}
	}
	if rec.attempts[0].Status != http.StatusInternalServerError || d.Pending() != 0 {
		t.Errorf("status %d, pending %d", rec.attempts[0].Status, d.Pending())
	}
}

func TestDispatcherGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	rec := &recorder{}
	d := newTestDispatcher(t, srv.URL, rec, 1, 1)
	if err := d.Submit(context.Background(), &Job{ID: 1}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, d)
	if got := rec.outcomes(); !slices.Equal(got, []string{OutcomeRetrying, OutcomeFailed}) {
		t.Fatalf("outcomes = %v", got)
	}
}

func TestDispatcherNoURLIsNotRetried(t *testing.T) {
	rec := &recorder{}
	d := newTestDispatcher(t, "", rec, 5, 1)
	if err := d.Submit(context.Background(), &Job{ID: 1}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, d)
	if len(rec.attempts) != 1 || rec.attempts[0].Outcome != OutcomeFailed || !errors.Is(rec.attempts[0].Err, ErrNoWebhookURL) {
		t.Fatalf("attempts = %+v", rec.attempts)
	}
}

func TestDispatcherReorder(t *testing.T) {
	var mu sync.Mutex
	var order []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		order = append(order, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	d := newTestDispatcher(t, srv.URL, &recorder{}, 0, 1)
	d.SetReorder(3, 0)
	for i, b := range []string{"a", "b", "c", "d", "e"} {
		if err := d.Submit(context.Background(), &Job{ID: uint64(i + 1), Body: []byte(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if d.Pending() != 5 {
		t.Fatalf("pending = %d, want 5", d.Pending())
	}
	d.SetReorder(0, 0) // releases the incomplete group, reversed
	waitIdle(t, d)
	if want := []string{"c", "b", "a", "e", "d"}; !slices.Equal(order, want) {
		t.Fatalf("order = %v, want %v", order, want)
	}
}

func TestDispatcherReorderWindow(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	d := newTestDispatcher(t, srv.URL, &recorder{}, 0, 1)
	d.SetReorder(10, 10*time.Millisecond)
	if err := d.Submit(context.Background(), &Job{ID: 1}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, d)
	if n.Load() != 1 {
		t.Fatalf("deliveries = %d, want 1", n.Load())
	}
}

func TestDispatcherDrop(t *testing.T) {
	rec := &recorder{}
	d := newTestDispatcher(t, "http://127.0.0.1:1", rec, 0, 1)
	d.SetReorder(10, 0)
	for i := range 4 {
		if err := d.Submit(context.Background(), &Job{ID: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.Drop(); got != 4 {
		t.Fatalf("Drop = %d, want 4", got)
	}
	waitIdle(t, d)
	if len(rec.attempts) != 0 {
		t.Fatalf("dropped jobs were attempted: %v", rec.outcomes())
	}
}

func TestDispatcherConcurrencyLimit(t *testing.T) {
	var inFlight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inFlight.Add(-1)
	}))
	defer srv.Close()
	d := newTestDispatcher(t, srv.URL, &recorder{}, 0, 8)
	d.Resize(2)
	for i := range 12 {
		if err := d.Submit(context.Background(), &Job{ID: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitIdle(t, d)
	if p := peak.Load(); p > 2 {
		t.Fatalf("peak concurrency = %d, want at most 2", p)
	}
}

func TestDispatcherClosed(t *testing.T) {
	d := newTestDispatcher(t, "", &recorder{}, 0, 1)
	d.SetReorder(5, 0)
	if err := d.Submit(context.Background(), &Job{ID: 1}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d.Close() // idempotent
	if err := d.Submit(context.Background(), &Job{ID: 2}); !errors.Is(err, errTestClosed) {
		t.Fatalf("Submit after Close = %v", err)
	}
	if err := d.WaitIdle(context.Background()); !errors.Is(err, errTestClosed) {
		t.Fatalf("WaitIdle after Close = %v", err)
	}
}
