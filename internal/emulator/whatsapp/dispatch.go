package whatsapp

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
// use is bounded by the largest concurrency ever set (at most maxWorkers)
// plus one scheduler, whatever the load. The genesys emulator carries an
// identical copy (packages cannot share unexported code and the emulator
// packages must not depend on each other).

// maxWorkers caps the Concurrency fault.
const maxWorkers = 256

// errNoWebhookURL is recorded when a delivery is attempted before the
// webhook URL is known.
var errNoWebhookURL = errors.New("no webhook URL configured")

// job is one signed webhook body on its way to the gateway.
type job struct {
	id        uint64   // delivery number, shared by a body and its deliberate duplicate
	kind      string   // what the body carries, for the records
	ids       []string // message ids in the body, for the records
	body      []byte
	signature string
	duplicate bool
	attempt   int // attempts made so far
}

// attemptRecord describes one HTTP attempt, handed to the emulator's recorder.
type attemptRecord struct {
	job     *job
	attempt int // j.attempt when recorded; j may be retried concurrently afterwards
	status  int
	err     error
	outcome string // outcomeDelivered, outcomeRetrying or outcomeFailed
	start   time.Time
	elapsed time.Duration
}

const (
	outcomeDelivered = "delivered"
	outcomeRetrying  = "retrying"
	outcomeFailed    = "failed"
)

type dispatchConfig struct {
	client  *http.Client
	timeout time.Duration
	queue   int
	logger  *slog.Logger
	url     func() string
	header  func(h http.Header, j *job)
	success func(status int) bool
	// retry reports whether attempt number j.attempt (already made) should be
	// followed by another one, and after how long.
	retry  func(attempt, status int, err error) (time.Duration, bool)
	record func(attemptRecord)
}

type dispatcher struct {
	cfg     dispatchConfig
	ctx     context.Context
	cancel  context.CancelFunc
	queue   chan *job
	wg      sync.WaitGroup
	pending atomic.Int64 // queued + in flight + awaiting retry + held

	mu            sync.Mutex
	closed        bool
	workers       int
	reorder       int
	reorderWindow time.Duration
	held          []*job
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

func newDispatcher(cfg dispatchConfig, workers int) *dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	d := &dispatcher{
		cfg:    cfg,
		ctx:    ctx,
		cancel: cancel,
		queue:  make(chan *job, cfg.queue),
		wake:   make(chan struct{}, 1),
	}
	d.lcond = sync.NewCond(&d.lmu)
	d.limitChanged = make(chan struct{})
	d.wg.Add(1)
	go d.retryLoop()
	d.resize(workers)
	return d
}

// resize sets how many deliveries may be in flight at once. Workers are
// started as needed and never stopped before close (at most maxWorkers);
// those beyond the limit wait for a permit. A worker takes a permit before
// it takes a job, so with a limit of 1 jobs go out strictly in queue order.
func (d *dispatcher) resize(n int) {
	n = min(max(n, 1), maxWorkers)
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
func (d *dispatcher) acquire() (<-chan struct{}, bool) {
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

func (d *dispatcher) release() {
	d.lmu.Lock()
	d.active--
	d.lcond.Signal()
	d.lmu.Unlock()
}

// setReorder changes the reorder fault. Deliveries held under the previous
// setting are released at once, in reverse order.
func (d *dispatcher) setReorder(n int, window time.Duration) {
	d.mu.Lock()
	changed := n != d.reorder
	d.reorder, d.reorderWindow = n, window
	var release []*job
	if changed {
		release = d.takeHeldLocked()
	}
	d.mu.Unlock()
	d.pushAll(release)
}

// takeHeldLocked empties the hold buffer and returns it reversed.
func (d *dispatcher) takeHeldLocked() []*job {
	if d.holdTimer != nil {
		d.holdTimer.Stop()
		d.holdTimer = nil
	}
	out := make([]*job, 0, len(d.held))
	for i := len(d.held) - 1; i >= 0; i-- {
		out = append(out, d.held[i])
	}
	d.held = nil
	return out
}

// releaseHeld is the reorder window's timer callback.
func (d *dispatcher) releaseHeld() {
	d.mu.Lock()
	d.holdTimer = nil
	release := d.takeHeldLocked()
	d.mu.Unlock()
	d.pushAll(release)
}

// submit queues the first attempt of jobs. The first job is the one the
// caller cares about: an error means it was not accepted. Later jobs (the
// deliberate duplicates) are best effort.
func (d *dispatcher) submit(ctx context.Context, jobs ...*job) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	if d.reorder > 1 {
		d.pending.Add(int64(len(jobs)))
		d.held = append(d.held, jobs...)
		var release []*job
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
func (d *dispatcher) pushAll(jobs []*job) {
	for _, j := range jobs {
		if err := d.push(d.ctx, j); err != nil {
			d.pending.Add(-1)
		}
	}
}

func (d *dispatcher) push(ctx context.Context, j *job) error {
	select {
	case d.queue <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.ctx.Done():
		return ErrClosed
	}
}

func (d *dispatcher) worker() {
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

func (d *dispatcher) deliver(j *job) {
	j.attempt++
	start := time.Now()
	status, err := d.post(j)
	rec := attemptRecord{job: j, attempt: j.attempt, status: status, err: err, start: start, elapsed: time.Since(start)}
	if d.ctx.Err() != nil {
		// Shutting down: the attempt was cut short by us, not by the gateway.
		d.pending.Add(-1)
		return
	}
	if err == nil && d.cfg.success(status) {
		rec.outcome = outcomeDelivered
		d.cfg.record(rec)
		d.pending.Add(-1)
		return
	}
	delay, again := time.Duration(0), false
	if !errors.Is(err, errNoWebhookURL) {
		delay, again = d.cfg.retry(j.attempt, status, err)
	}
	// Record before handing the job on: once rescheduled or counted done,
	// another goroutine may touch it, and WaitIdle may return.
	if again {
		rec.outcome = outcomeRetrying
		d.cfg.record(rec)
		d.scheduleRetry(j, delay)
		return
	}
	rec.outcome = outcomeFailed
	d.cfg.record(rec)
	d.pending.Add(-1)
	d.cfg.logger.Warn("webhook delivery given up",
		"delivery", j.id, "attempts", j.attempt, "status", status, "error", err)
}

func (d *dispatcher) post(j *job) (int, error) {
	url := d.cfg.url()
	if url == "" {
		return 0, errNoWebhookURL
	}
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(j.body))
	if err != nil {
		return 0, err
	}
	d.cfg.header(req.Header, j)
	resp, err := d.cfg.client.Do(req)
	if err != nil {
		return 0, err
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (d *dispatcher) scheduleRetry(j *job, delay time.Duration) {
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
func (d *dispatcher) retryLoop() {
	defer d.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		now := time.Now()
		var ready []*job
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

// drop discards everything not yet in flight: held, queued and awaiting
// retry. It returns how many deliveries were dropped.
func (d *dispatcher) drop() int {
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

// idle reports whether no delivery is queued, in flight, held or awaiting a retry.
func (d *dispatcher) idle() bool { return d.pending.Load() == 0 }

// waitIdle polls until idle, ctx ends or the dispatcher closes.
func (d *dispatcher) waitIdle(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !d.idle() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.ctx.Done():
			return ErrClosed // what was pending has been abandoned
		case <-t.C:
		}
	}
	return nil
}

// close stops the workers and the scheduler, abandons what is pending, and
// waits for every goroutine to return.
func (d *dispatcher) close() {
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

type retryItem struct {
	due time.Time
	seq uint64
	job *job
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
