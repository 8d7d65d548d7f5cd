package emulate

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the webhook delivery engine: a bounded queue drained by a
// pool of workers under a resizable concurrency limit, one scheduler
// goroutine for retries (timers, not sleeping goroutines), and the "reorder"
// fault that holds deliveries and releases them in reverse order. Goroutine
// use is bounded by the largest concurrency ever set (at most MaxWorkers)
// plus one scheduler, whatever the load. Both emulators use it; what differs
// between them (headers, what counts as success, the retry policy, how an
// attempt is recorded) comes in through DispatchConfig.

// MaxWorkers caps the number of deliveries in flight at once (the
// emulators' Concurrency fault).
const MaxWorkers = 256

// ErrNoWebhookURL is recorded when a delivery is attempted before the
// webhook URL is known. Such a delivery is not retried.
var ErrNoWebhookURL = errors.New("no webhook URL configured")

// Job is one signed webhook body on its way to the gateway.
type Job struct {
	// ID numbers the delivery; a body and its deliberate duplicate share it.
	ID uint64
	// Kind says what the body carries, for the records.
	Kind string
	// IDs are the message ids in the body, for the records.
	IDs []string
	// Body is the exact bytes posted.
	Body []byte
	// Signature is the signature header's value, computed over Body.
	Signature string
	// Duplicate marks the extra copy queued by the DuplicateRate fault.
	Duplicate bool

	attempt int // attempts made so far
}

// Attempt describes one HTTP attempt, handed to DispatchConfig.Record.
type Attempt struct {
	// Job is the delivery attempted. It may be retried concurrently once
	// Record returns; read Attempt, not the job, for this attempt's number.
	Job *Job
	// Number is 1 for the first try of the job, 2 for its first retry...
	Number int
	// Status is the gateway's HTTP status, 0 when no response came.
	Status int
	// Err is the network error or timeout, if any.
	Err error
	// Outcome is OutcomeDelivered, OutcomeRetrying or OutcomeFailed.
	Outcome string
	// Start is when the attempt began, by the wall clock.
	Start time.Time
	// Elapsed is how long the attempt took.
	Elapsed time.Duration
}

// The outcomes of an Attempt.
const (
	// OutcomeDelivered means the gateway acknowledged the delivery.
	OutcomeDelivered = "delivered"
	// OutcomeRetrying means the attempt failed and another is scheduled.
	OutcomeRetrying = "retrying"
	// OutcomeFailed means the attempt failed and the delivery is given up.
	OutcomeFailed = "failed"
)

// DispatchConfig configures a Dispatcher. Every field is required.
type DispatchConfig struct {
	// Client makes the webhook requests.
	Client *http.Client
	// Timeout bounds each attempt.
	Timeout time.Duration
	// Queue bounds the deliveries waiting for a worker.
	Queue int
	// Logger receives a warning for every delivery given up.
	Logger *slog.Logger
	// URL returns where to post; an empty string fails the attempt with
	// ErrNoWebhookURL.
	URL func() string
	// Header sets the request headers for one attempt of j.
	Header func(h http.Header, j *Job)
	// Success reports whether an HTTP status acknowledges a delivery.
	Success func(status int) bool
	// Retry reports whether attempt number attempt (already made, and
	// failed) should be followed by another one, and after how long.
	Retry func(attempt, status int, err error) (time.Duration, bool)
	// Record is called once per attempt, before the job is retried or
	// counted done.
	Record func(Attempt)
	// Closed is the error Submit and WaitIdle return once the dispatcher
	// is closed (the emulator's ErrClosed).
	Closed error
}

// Dispatcher delivers webhook jobs: a bounded queue drained by a pool of
// workers under a resizable concurrency limit, with retries and the
// reorder fault. It is safe for concurrent use.
type Dispatcher struct {
	cfg     DispatchConfig
	ctx     context.Context
	cancel  context.CancelFunc
	queue   chan *Job
	wg      sync.WaitGroup
	pending atomic.Int64 // queued + in flight + awaiting retry + held

	mu            sync.Mutex
	closed        bool
	workers       int
	reorder       int
	reorderWindow time.Duration
	held          []*Job
	holdTimer     *time.Timer

	// The concurrency limit: permits guarded by lmu, signalled by lcond.
	lmu          sync.Mutex
	lcond        *sync.Cond
	limitChanged chan struct{}
	limit        int
	active       int
	stopping     bool

	rmu     sync.Mutex
	retries retryHeap
	rseq    uint64
	wake    chan struct{}
}

// NewDispatcher starts a dispatcher with a concurrency limit of workers
// (see Resize). Close stops it.
func NewDispatcher(cfg DispatchConfig, workers int) *Dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{
		cfg:    cfg,
		ctx:    ctx,
		cancel: cancel,
		queue:  make(chan *Job, cfg.Queue),
		wake:   make(chan struct{}, 1),
	}
	d.lcond = sync.NewCond(&d.lmu)
	d.limitChanged = make(chan struct{})
	d.wg.Add(1)
	go d.retryLoop()
	d.Resize(workers)
	return d
}

// Resize sets how many deliveries may be in flight at once. Workers are
// started as needed and never stopped before close (at most MaxWorkers);
// those beyond the limit wait for a permit. A worker takes a permit before
// it takes a job, so with a limit of 1 jobs go out strictly in queue order.
func (d *Dispatcher) Resize(n int) {
	n = min(max(n, 1), MaxWorkers)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.lmu.Lock()
	d.limit = n
	// Wake the workers that hold a permit while waiting for a job, so that
	// a lowered limit takes effect at once.
	close(d.limitChanged)
	d.limitChanged = make(chan struct{})
	d.lcond.Broadcast()
	d.lmu.Unlock()
	for ; d.workers < n; d.workers++ {
		d.wg.Add(1)
		go d.worker()
	}
}

// acquire waits for a delivery permit; false means the dispatcher closed.
// The channel returned is closed when the limit next changes.
func (d *Dispatcher) acquire() (<-chan struct{}, bool) {
	d.lmu.Lock()
	defer d.lmu.Unlock()
	for d.active >= d.limit && !d.stopping {
		d.lcond.Wait()
	}
	if d.stopping {
		return nil, false
	}
	d.active++
	return d.limitChanged, true
}

func (d *Dispatcher) release() {
	d.lmu.Lock()
	d.active--
	d.lcond.Signal()
	d.lmu.Unlock()
}

// SetReorder changes the reorder fault. Deliveries held under the previous
// setting are released at once, in reverse order.
func (d *Dispatcher) SetReorder(n int, window time.Duration) {
	d.mu.Lock()
	changed := n != d.reorder
	d.reorder, d.reorderWindow = n, window
	var release []*Job
	if changed {
		release = d.takeHeldLocked()
	}
	d.mu.Unlock()
	d.pushAll(release)
}

// takeHeldLocked empties the hold buffer and returns it reversed.
func (d *Dispatcher) takeHeldLocked() []*Job {
	if d.holdTimer != nil {
		d.holdTimer.Stop()
		d.holdTimer = nil
	}
	out := make([]*Job, 0, len(d.held))
	for i := len(d.held) - 1; i >= 0; i-- {
		out = append(out, d.held[i])
	}
	d.held = nil
	return out
}

// releaseHeld is the reorder window's timer callback.
func (d *Dispatcher) releaseHeld() {
	d.mu.Lock()
	d.holdTimer = nil
	release := d.takeHeldLocked()
	d.mu.Unlock()
	d.pushAll(release)
}

// Submit queues the first attempt of jobs. The first job is the one the
// caller cares about: an error means it was not accepted. Later jobs (the
// deliberate duplicates) are best effort.
func (d *Dispatcher) Submit(ctx context.Context, jobs ...*Job) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return d.cfg.Closed
	}
	if d.reorder > 1 {
		d.pending.Add(int64(len(jobs)))
		d.held = append(d.held, jobs...)
		var release []*Job
		for len(d.held) >= d.reorder {
			for i := d.reorder - 1; i >= 0; i-- {
				release = append(release, d.held[i])
			}
			d.held = d.held[d.reorder:]
		}
		switch {
		case len(d.held) == 0 && d.holdTimer != nil:
			d.holdTimer.Stop()
			d.holdTimer = nil
		case len(d.held) > 0 && d.holdTimer == nil && d.reorderWindow > 0:
			d.holdTimer = time.AfterFunc(d.reorderWindow, d.releaseHeld)
		}
		d.mu.Unlock()
		d.pushAll(release)
		return nil
	}
	d.mu.Unlock()
	for i, j := range jobs {
		d.pending.Add(1)
		if err := d.push(ctx, j); err != nil {
			d.pending.Add(-1)
			if i == 0 {
				return err
			}
		}
	}
	return nil
}

// pushAll queues jobs that are already counted as pending, waiting for room
// as long as the dispatcher runs.
func (d *Dispatcher) pushAll(jobs []*Job) {
	for _, j := range jobs {
		if err := d.push(d.ctx, j); err != nil {
			d.pending.Add(-1)
		}
	}
}

func (d *Dispatcher) push(ctx context.Context, j *Job) error {
	select {
	case d.queue <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.ctx.Done():
		return d.cfg.Closed
	}
}

func (d *Dispatcher) worker() {
	defer d.wg.Done()
	for {
		changed, ok := d.acquire()
		if !ok {
			return
		}
		select {
		case <-d.ctx.Done():
			d.release()
			return
		case <-changed:
			d.release() // compete for a permit under the new limit
		case j := <-d.queue:
			d.deliver(j)
			d.release()
		}
	}
}

func (d *Dispatcher) deliver(j *Job) {
	j.attempt++
	start := time.Now()
	status, err := d.post(j)
	rec := Attempt{Job: j, Number: j.attempt, Status: status, Err: err, Start: start, Elapsed: time.Since(start)}
	if d.ctx.Err() != nil {
		// Shutting down: the attempt was cut short by us, not by the gateway.
		d.pending.Add(-1)
		return
	}
	if err == nil && d.cfg.Success(status) {
		rec.Outcome = OutcomeDelivered
		d.cfg.Record(rec)
		d.pending.Add(-1)
		return
	}
	delay, again := time.Duration(0), false
	if !errors.Is(err, ErrNoWebhookURL) {
		delay, again = d.cfg.Retry(j.attempt, status, err)
	}
	// Record before handing the job on: once rescheduled or counted done,
	// another goroutine may touch it, and WaitIdle may return.
	if again {
		rec.Outcome = OutcomeRetrying
		d.cfg.Record(rec)
		d.scheduleRetry(j, delay)
		return
	}
	rec.Outcome = OutcomeFailed
	d.cfg.Record(rec)
	d.pending.Add(-1)
	d.cfg.Logger.Warn("webhook delivery given up",
		"delivery", j.ID, "attempts", j.attempt, "status", status, "error", err)
}

func (d *Dispatcher) post(j *Job) (int, error) {
	url := d.cfg.URL()
	if url == "" {
		return 0, ErrNoWebhookURL
	}
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(j.Body))
	if err != nil {
		return 0, err
	}
	d.cfg.Header(req.Header, j)
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (d *Dispatcher) scheduleRetry(j *Job, delay time.Duration) {
	d.rmu.Lock()
	d.rseq++
	heap.Push(&d.retries, retryItem{due: time.Now().Add(delay), seq: d.rseq, job: j})
	d.rmu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// retryLoop is the single goroutine that moves due retries back to the queue.
func (d *Dispatcher) retryLoop() {
	defer d.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		now := time.Now()
		var ready []*Job
		wait := time.Duration(-1)
		d.rmu.Lock()
		for d.retries.Len() > 0 && !d.retries[0].due.After(now) {
			ready = append(ready, heap.Pop(&d.retries).(retryItem).job)
		}
		if d.retries.Len() > 0 {
			wait = d.retries[0].due.Sub(now)
		}
		d.rmu.Unlock()
		d.pushAll(ready)
		if wait >= 0 {
			timer.Reset(wait)
		}
		select {
		case <-d.ctx.Done():
			timer.Stop()
			return
		case <-d.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Drop discards everything not yet in flight: held, queued and awaiting
// retry. It returns how many deliveries were dropped.
func (d *Dispatcher) Drop() int {
	n := 0
	d.mu.Lock()
	n += len(d.takeHeldLocked())
	d.mu.Unlock()
	for done := false; !done; {
		select {
		case <-d.queue:
			n++
		default:
			done = true
		}
	}
	d.rmu.Lock()
	n += d.retries.Len()
	d.retries = nil
	d.rmu.Unlock()
	d.pending.Add(int64(-n))
	return n
}

// Pending returns the number of deliveries queued, in flight, held by the
// reorder fault or awaiting a retry.
func (d *Dispatcher) Pending() int64 { return d.pending.Load() }

// idle reports whether no delivery is queued, in flight, held or awaiting a retry.
func (d *Dispatcher) idle() bool { return d.pending.Load() == 0 }

// WaitIdle polls until idle, ctx ends or the dispatcher closes.
func (d *Dispatcher) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !d.idle() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.ctx.Done():
			return d.cfg.Closed // what was pending has been abandoned
		case <-t.C:
		}
	}
	return nil
}

// Close stops the workers and the scheduler, abandons what is pending, and
// waits for every goroutine to return.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	if d.holdTimer != nil {
		d.holdTimer.Stop()
		d.holdTimer = nil
	}
	d.mu.Unlock()
	d.cancel()
	d.lmu.Lock()
	d.stopping = true
	d.lcond.Broadcast()
	d.lmu.Unlock()
	d.wg.Wait()
}

// DefaultClient returns an HTTP client whose connection reuse is tuned for
// up to MaxWorkers concurrent deliveries to one host.
func DefaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2 * MaxWorkers
	t.MaxIdleConnsPerHost = MaxWorkers
	return &http.Client{Transport: t}
}

type retryItem struct {
	due time.Time
	seq uint64
	job *Job
}

type retryHeap []retryItem

func (h retryHeap) Len() int { return len(h) }
func (h retryHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h retryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)   { *h = append(*h, x.(retryItem)) }
func (h *retryHeap) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = retryItem{}
	*h = old[:n-1]
	return it
}
