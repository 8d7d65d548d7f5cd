package relay

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secureflow/secureflow/internal/retry"
	"github.com/secureflow/secureflow/internal/store"
)

// Config configures a Relay.
type Config struct {
	Store         store.Store
	Sealer        Sealer
	ContactCenter ContactCenter
	Channel       Channel
	Metrics       *Metrics
	Logger        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Workers bounds deliveries in flight.
	Workers int
	// ReorderWindow holds inbound events this long before processing.
	ReorderWindow time.Duration
	// RequestTimeout bounds one delivery attempt; the lease on a message is
	// this plus a margin, so an attempt always ends before its lease.
	RequestTimeout time.Duration
	// Backoff schedules retries; GiveUpAfter dead-letters a message still
	// failing after this long.
	Backoff     retry.Backoff
	GiveUpAfter time.Duration
	// DedupeRetention keeps processed inbox rows (their dedupe keys) this
	// long; DeliveredRetention keeps delivered outbox rows (needed to route
	// receipts) this long.
	DedupeRetention    time.Duration
	DeliveredRetention time.Duration
	// Customer and Agent apply the detection policy to customer and agent
	// text; nil forwards text as written.
	Customer, Agent Redactor
	// Sessions, when set, is offered customer messages, agent messages and
	// session signals before they are routed (the secure-session engine).
	Sessions Sessions
	// Actions runs data actions for sessions; Control transfers and
	// disconnects contact-centre conversations for them.
	Actions Actions
	Control Control
	// ActionTimeout bounds one data-action run (default 60s).
	ActionTimeout time.Duration
	// ResendHold delays, after a crash, the resend of WhatsApp messages
	// that were in flight (default 20s): WhatsApp cannot drop a resend,
	// and a send that did happen is reported meanwhile by a status that
	// echoes the outbox key, which marks it delivered instead.
	ResendHold time.Duration
	// PollInterval is the fallback poll when no wake-up arrives (retries
	// coming due, reorder windows elapsing).
	PollInterval time.Duration
	// QueueAll turns direct delivery off (see direct.go): every message
	// goes through the outbox.
	QueueAll bool
}

// Relay runs the pipeline. Create with New, start with Run, stop with Close.
type Relay struct {
	cfg   Config
	inbox *Inbox
	proc  *processor
	disp  *dispatcher

	wakeProc chan struct{}
	wakeDisp chan struct{}

	ctx     context.Context // cancelled by Close
	stop    context.CancelFunc
	running atomic.Bool
	stopped chan struct{}
	once    sync.Once
}

// New returns a Relay. Its Inbox accepts events at once; processing and
// delivery start with Run.
func New(cfg Config) (*Relay, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.ContactCenter == nil || cfg.Channel == nil || cfg.Metrics == nil || cfg.Logger == nil {
		return nil, errors.New("relay: Store, Sealer, ContactCenter, Channel, Metrics and Logger are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 15 * time.Second
	}
	if cfg.ResendHold <= 0 {
		cfg.ResendHold = 20 * time.Second
	}
	if cfg.ActionTimeout <= 0 {
		cfg.ActionTimeout = 60 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.Backoff.Initial <= 0 {
		cfg.Backoff = retry.Backoff{Initial: 500 * time.Millisecond, Max: 5 * time.Minute}
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = 24 * time.Hour
	}
	if cfg.DedupeRetention <= 0 {
		cfg.DedupeRetention = 8 * 24 * time.Hour
	}
	if cfg.DeliveredRetention <= 0 {
		cfg.DeliveredRetention = cfg.DedupeRetention
	}
	r := &Relay{cfg: cfg, wakeProc: make(chan struct{}, 1), wakeDisp: make(chan struct{}, 1), stopped: make(chan struct{})}
	r.ctx, r.stop = context.WithCancel(context.Background())
	r.inbox = newInbox(cfg.Store, cfg.Sealer, cfg.Now, cfg.Metrics, cfg.Logger, r.signal(r.wakeProc))
	r.proc = &processor{st: cfg.Store, sealer: cfg.Sealer, now: cfg.Now, window: cfg.ReorderWindow, batch: 512,
		customer: cfg.Customer, agent: cfg.Agent, sessions: cfg.Sessions,
		metrics: cfg.Metrics, log: cfg.Logger, wakeOut: r.signal(r.wakeDisp)}
	r.disp = &dispatcher{st: cfg.Store, sealer: cfg.Sealer, cc: cfg.ContactCenter, ch: cfg.Channel, now: cfg.Now,
		actions: cfg.Actions, control: cfg.Control, actionTimeout: cfg.ActionTimeout,
		workers: cfg.Workers, timeout: cfg.RequestTimeout, lease: leaseFor(cfg.RequestTimeout, cfg.ActionTimeout), backoff: cfg.Backoff, giveUpAfter: cfg.GiveUpAfter,
		metrics: cfg.Metrics, log: cfg.Logger, rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		slots: make(chan struct{}, cfg.Workers*(1+queuePerWorker)), running: make(chan struct{}, cfg.Workers),
		done: make(chan store.Delivery, cfg.Workers)}
	r.proc.disp, r.proc.lease, r.proc.cmds = r.disp, r.disp.lease, map[string]*command{}
	r.proc.direct, r.proc.maxParked = !cfg.QueueAll, defaultMaxParked
	r.proc.held, r.proc.busy = map[int64]struct{}{}, map[string]*busyConv{}
	r.proc.results.wake = r.signal(r.wakeProc)
	return r, nil
}

// leaseFor returns how long a claimed message is leased: long enough for
// it to wait behind the queuePerWorker messages queued ahead of it on each
// worker and then be attempted, each attempt bounded by the longer of the
// two timeouts, with a margin. A lease never runs out while its message is
// queued or in flight, so no second claim can deliver it alongside. (A
// crashed process's leases are released when its successor starts: see
// store.RecoverLeases.)
func leaseFor(request, action time.Duration) time.Duration {
	return time.Duration(1+queuePerWorker)*max(request, action) + 15*time.Second
}

// UseSessions attaches the secure-session engine, its data-action runner
// and the contact-centre control it needs. The engine needs the relay's
// inbox, so it is built after the relay; call this before Run.
func (r *Relay) UseSessions(s Sessions, a Actions, c Control) {
	r.cfg.Sessions, r.cfg.Actions, r.cfg.Control = s, a, c
	r.proc.sessions = s
	r.disp.actions, r.disp.control = a, c
}

// Inbox is the sink for the webhooks.
func (r *Relay) Inbox() *Inbox { return r.inbox }

func (r *Relay) signal(ch chan struct{}) func() {
	return func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Run processes and delivers until ctx ends or Close is called. It returns
// after in-flight work has drained.
func (r *Relay) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("relay: Run called twice")
	}
	defer close(r.stopped)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnClose := context.AfterFunc(r.ctx, cancel)
	defer stopOnClose()

	// Messages a crashed predecessor had in flight are sent again.
	if n, err := r.cfg.Store.RecoverLeases(ctx, r.cfg.Now(), map[string]time.Duration{DestWhatsApp: r.cfg.ResendHold}); err != nil {
		return err
	} else if n > 0 {
		r.cfg.Logger.Warn("messages in flight at the last stop will be sent again", "messages", n,
			"whatsapp_hold", r.cfg.ResendHold.String())
	}
	recorded := make(chan struct{})
	go func() {
		r.disp.recordLoop(r.signal(r.wakeDisp))
		close(recorded)
	}()
	var loops sync.WaitGroup
	loops.Add(3)
	go func() { defer loops.Done(); r.loop(ctx, r.wakeProc, r.proc.runOnce, "process") }()
	go func() { defer loops.Done(); r.loop(ctx, r.wakeDisp, r.disp.dispatchOnce, "dispatch") }()
	go func() { defer loops.Done(); r.pruneLoop(ctx) }()
	r.signal(r.wakeProc)()
	r.signal(r.wakeDisp)()

	<-ctx.Done()
	loops.Wait()
	// Drain: let in-flight deliveries finish and be recorded.
	r.disp.wg.Wait()
	close(r.disp.done)
	<-recorded
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.proc.flush(fctx); err != nil {
		// Their events stay pending: the next start sends them again with
		// the same ids, which the contact centre drops.
		r.cfg.Logger.Error("recording direct deliveries at shutdown failed", "error", err.Error())
	}
	return nil
}

// loop runs step whenever woken or every PollInterval, and again at once
// while step reports more work ready. (A wake-up that arrives while step
// runs is kept, so work that arrives meanwhile runs it again.)
func (r *Relay) loop(ctx context.Context, wake <-chan struct{}, step func(context.Context) (bool, error), name string) {
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
		for ctx.Err() == nil {
			more, err := step(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.cfg.Logger.Error("relay step failed", "step", name, "error", err.Error())
				}
				break
			}
			if !more {
				break
			}
		}
	}
}

func (r *Relay) pruneLoop(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		now := r.cfg.Now()
		n, err := r.cfg.Store.Prune(ctx, now.Add(-r.cfg.DedupeRetention), now.Add(-r.cfg.DeliveredRetention))
		if err != nil && ctx.Err() == nil {
			r.cfg.Logger.Error("prune failed", "error", err.Error())
		} else if n > 0 {
			r.cfg.Logger.Info("pruned expired rows", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops accepting webhooks, finishes queued commits, stops
// processing and waits for in-flight deliveries to be recorded.
func (r *Relay) Close() error {
	r.once.Do(func() {
		r.inbox.close()
		r.stop()
		if r.running.Load() {
			<-r.stopped
		}
	})
	return nil
}
