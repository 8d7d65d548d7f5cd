package whatsapp

import (
	"context"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
	"github.com/secureflow/secureflow/internal/hubsig"
)

// Defaults applied by New to empty Config fields. The identifiers are the
// example values of Meta's webhook reference (whatsapp.md §1.2).
const (
	DefaultWABAID             = "102290129340398"
	DefaultPhoneNumberID      = "106540352242922"
	DefaultDisplayPhoneNumber = "15550783881"
	DefaultHistoryLimit       = 100_000
	DefaultQueueSize          = 10_000
	DefaultDeliveryTimeout    = 10 * time.Second
)

// DefaultRetrySchedule is used when Config.RetrySchedule is nil: a retry at
// once, then with decreasing frequency (whatsapp.md §1.7: Meta retries
// non-200 deliveries "with decreasing frequency", for up to 36 hours or
// 7 days depending on the page; the exact schedule is not published).
var DefaultRetrySchedule = []time.Duration{
	0, 10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
}

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("whatsapp emulator closed")

// Config configures an Emulator. AppSecret and AccessToken are required.
type Config struct {
	// WebhookURL is the gateway's webhook endpoint (/webhooks/whatsapp). It
	// may be left empty and set later with SetWebhookURL; deliveries made
	// while it is empty fail and are recorded as such.
	WebhookURL string
	// AppSecret signs webhooks: X-Hub-Signature-256 "sha256=<lowercase hex
	// HMAC-SHA256>" over the exact body (whatsapp.md §1.6).
	AppSecret []byte
	// VerifyToken is sent by Handshake as hub.verify_token (whatsapp.md §1.1).
	VerifyToken string
	// AccessToken is the Bearer token the Graph API expects from the gateway.
	AccessToken string
	// WABAID, PhoneNumberID and DisplayPhoneNumber identify the business
	// account and number (whatsapp.md §1.2); empty fields take the Default
	// values above.
	WABAID, PhoneNumberID, DisplayPhoneNumber string
	// AutoStatuses makes every accepted send produce sent, delivered and read
	// status webhooks (whatsapp.md §1.5), each in its own delivery.
	AutoStatuses bool
	// RetrySchedule is the delay before each retry of a webhook delivery that
	// did not get HTTP 200; its length is the number of retries. Nil means
	// DefaultRetrySchedule; an empty non-nil slice means no retries.
	RetrySchedule []time.Duration
	// DeliveryTimeout bounds each webhook attempt; zero means
	// DefaultDeliveryTimeout. Meta does not document its own timeout
	// (whatsapp.md §1.7); BSPs report 5–10 s.
	DeliveryTimeout time.Duration
	// QueueSize bounds the webhook deliveries waiting for a worker; callers
	// block (respecting their context) when it is full. Zero means
	// DefaultQueueSize.
	QueueSize int
	// HistoryLimit caps each recorded history (sent messages, deliveries,
	// read marks) and the resend-detection memory. Zero means
	// DefaultHistoryLimit.
	HistoryLimit int
	// Client makes the webhook requests. Nil means a client with connection
	// reuse tuned for many concurrent deliveries to one host.
	Client *http.Client
	// Logger receives the emulator's logs. Nil discards them.
	Logger *slog.Logger
	// Now is the clock used for timestamps. Nil means time.Now.
	Now func() time.Time
	// FlowsEndpointURL is the gateway's WhatsApp Flows data endpoint
	// (/flows/whatsapp), and FlowsPublicKey the business public key
	// registered for it (whatsapp.md §3.1); SubmitFlow needs both.
	FlowsEndpointURL string
	FlowsPublicKey   *rsa.PublicKey
}

// Emulator plays Meta's side of the WhatsApp Cloud API: the Graph send API
// the gateway calls, and the signed webhooks a customer's messages become.
// It is safe for concurrent use.
type Emulator struct {
	cfg    Config
	log    *slog.Logger
	faults *emulate.FaultState[Faults]
	disp   *emulate.Dispatcher
	mux    *http.ServeMux

	webhookURL atomic.Pointer[string]
	deliveryID atomic.Uint64
	done       chan struct{}
	closeOnce  sync.Once

	mu         sync.Mutex
	seq        uint64
	sent       *emulate.Ring[SentMessage]
	deliveries *emulate.Ring[Delivery]
	readMarks  *emulate.Ring[ReadMark]
	seenBiz    *emulate.BoundedMap[string, struct{}]
	byWAMID    *emulate.BoundedMap[string, sentRef]
	lastInter  *emulate.BoundedMap[string, string] // wa_id → wamid of the last interactive message sent
	stats      Stats
}

// sentRef is what status webhooks need to know about a sent message.
type sentRef struct {
	waID string
	biz  string
}

// New validates cfg, fills in defaults and starts the delivery workers.
func New(cfg Config) (*Emulator, error) {
	var errs []error
	if len(cfg.AppSecret) == 0 {
		errs = append(errs, errors.New("whatsapp emulator: AppSecret is required"))
	}
	if cfg.AccessToken == "" {
		errs = append(errs, errors.New("whatsapp emulator: AccessToken is required"))
	}
	if cfg.QueueSize < 0 || cfg.HistoryLimit < 0 || cfg.DeliveryTimeout < 0 {
		errs = append(errs, errors.New("whatsapp emulator: QueueSize, HistoryLimit and DeliveryTimeout must not be negative"))
	}
	for _, d := range cfg.RetrySchedule {
		if d < 0 {
			errs = append(errs, errors.New("whatsapp emulator: RetrySchedule delays must not be negative"))
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.WABAID = orDefault(cfg.WABAID, DefaultWABAID)
	cfg.PhoneNumberID = orDefault(cfg.PhoneNumberID, DefaultPhoneNumberID)
	cfg.DisplayPhoneNumber = orDefault(cfg.DisplayPhoneNumber, DefaultDisplayPhoneNumber)
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = DefaultRetrySchedule
	}
	cfg.RetrySchedule = append([]time.Duration(nil), cfg.RetrySchedule...)
	if cfg.DeliveryTimeout == 0 {
		cfg.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.HistoryLimit == 0 {
		cfg.HistoryLimit = DefaultHistoryLimit
	}
	if cfg.Client == nil {
		cfg.Client = emulate.DefaultClient()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Emulator{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "emulator.whatsapp"),
		faults:     newFaultState(),
		done:       make(chan struct{}),
		sent:       emulate.NewRing[SentMessage](cfg.HistoryLimit),
		deliveries: emulate.NewRing[Delivery](cfg.HistoryLimit),
		readMarks:  emulate.NewRing[ReadMark](cfg.HistoryLimit),
		seenBiz:    emulate.NewBoundedMap[string, struct{}](cfg.HistoryLimit),
		byWAMID:    emulate.NewBoundedMap[string, sentRef](cfg.HistoryLimit),
		lastInter:  emulate.NewBoundedMap[string, string](cfg.HistoryLimit),
	}
	url := cfg.WebhookURL
	e.webhookURL.Store(&url)
	e.disp = emulate.NewDispatcher(emulate.DispatchConfig{
		Client:  cfg.Client,
		Timeout: cfg.DeliveryTimeout,
		Queue:   cfg.QueueSize,
		Logger:  e.log,
		URL:     func() string { return *e.webhookURL.Load() },
		Header: func(h http.Header, j *emulate.Job) {
			// whatsapp.md §1.2: POST, Content-Type application/json, signed.
			h.Set("Content-Type", "application/json")
			h.Set(hubsig.Header, j.Signature)
		},
		// whatsapp.md §1.6/§1.7: only 200 acknowledges; anything else is retried.
		Success: func(status int) bool { return status == http.StatusOK },
		Retry: func(attempt, _ int, _ error) (time.Duration, bool) {
			if attempt-1 < len(e.cfg.RetrySchedule) {
				return e.cfg.RetrySchedule[attempt-1], true
			}
			return 0, false
		},
		Record: e.recordAttempt,
		Closed: ErrClosed,
	}, DefaultConcurrency)
	e.mux = e.routes()
	return e, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Handler serves the Graph API and the control API, at the absolute paths
// documented in docs/emulators.md (all under /emulator/whatsapp/).
func (e *Emulator) Handler() http.Handler { return e.mux }

// SetWebhookURL changes where webhooks are delivered, for set-ups where the
// gateway's address is known only after the emulator is built.
func (e *Emulator) SetWebhookURL(url string) { e.webhookURL.Store(&url) }

// Close stops the delivery workers, abandons pending deliveries, releases
// Graph API calls held by the Timeout fault, and waits for its goroutines.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		close(e.done)
		e.disp.Close()
	})
	return nil
}

func (e *Emulator) closed() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// SetFaults replaces the injected faults (and their counters). Deliveries
// held by a previous Reorder setting are released at once.
func (e *Emulator) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	e.faults.Set(f)
	e.disp.SetReorder(f.Reorder, f.ReorderWindow)
	e.disp.Resize(orDefaultInt(f.Concurrency, DefaultConcurrency))
	return nil
}

func orDefaultInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Faults returns the current faults, with the counters that remain.
func (e *Emulator) Faults() Faults { return e.faults.Get() }

// WaitIdle blocks until no webhook delivery is queued, in flight, held by
// the Reorder fault or waiting for a retry, or until ctx ends.
func (e *Emulator) WaitIdle(ctx context.Context) error { return e.disp.WaitIdle(ctx) }

// Reset forgets every record and counter, clears the faults, and drops the
// webhook deliveries not yet in flight.
func (e *Emulator) Reset() {
	_ = e.SetFaults(Faults{})
	dropped := e.disp.Drop()
	e.mu.Lock()
	e.sent.Reset()
	e.deliveries.Reset()
	e.readMarks.Reset()
	e.seenBiz.Reset()
	e.byWAMID.Reset()
	e.lastInter.Reset()
	e.stats = Stats{}
	e.mu.Unlock()
	e.log.Info("reset", "dropped_deliveries", dropped)
}

// Stats are running totals since New or the last Reset. Unlike the
// histories they are not capped.
type Stats struct {
	// Sent counts accepted Graph API sends (mark-as-read calls excluded).
	Sent int64 `json:"sent"`
	// Resends counts accepted sends whose biz_opaque_callback_data had been
	// seen before.
	Resends int64 `json:"resends"`
	// Rejected counts Graph API calls answered with an error, faults included.
	Rejected int64 `json:"rejected"`
	// ReadMarks counts accepted mark-as-read calls.
	ReadMarks int64 `json:"read_marks"`
	// CustomerMessages counts messages queued by customers.
	CustomerMessages int64 `json:"customer_messages"`
	// Attempts counts webhook delivery attempts.
	Attempts int64 `json:"attempts"`
	// Delivered counts deliveries acknowledged with HTTP 200.
	Delivered int64 `json:"delivered"`
	// Failed counts deliveries given up after the last retry.
	Failed int64 `json:"failed"`
	// Pending is the number of deliveries queued, in flight, held or
	// waiting for a retry, at the time of the call.
	Pending int64 `json:"pending"`
}

// Stats returns the running totals.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	s := e.stats
	e.mu.Unlock()
	s.Pending = e.disp.Pending()
	return s
}

// Resends returns how many accepted sends repeated a biz_opaque_callback_data
// already seen: the Cloud API has no idempotency key, so the gateway's
// stable outbox id travels there and a repeat is a resend.
func (e *Emulator) Resends() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(e.stats.Resends)
}

// Delivery is one webhook delivery attempt.
type Delivery struct {
	// ID numbers the webhook body; a deliberate duplicate shares its ID.
	ID uint64 `json:"id"`
	// Attempt is 1 for the first try of this copy, 2 for its first retry...
	Attempt int `json:"attempt"`
	// Duplicate marks the extra copy sent by the DuplicateRate fault.
	Duplicate bool `json:"duplicate"`
	// Kind is "messages" or "statuses".
	Kind string `json:"kind"`
	// MessageIDs are the wamids the body carries.
	MessageIDs []string `json:"message_ids"`
	// StatusCode is the gateway's HTTP status, 0 when no response came.
	StatusCode int `json:"status_code"`
	// Error describes a network error or timeout.
	Error string `json:"error,omitempty"`
	// Outcome is "delivered", "retrying" (another attempt is scheduled) or
	// "failed" (given up).
	Outcome string `json:"outcome"`
	// Time is when the attempt ended, by the emulator's clock.
	Time time.Time `json:"time"`
	// Elapsed is how long the attempt took.
	Elapsed time.Duration `json:"elapsed_ns"`
}

func (e *Emulator) recordAttempt(a emulate.Attempt) {
	d := Delivery{
		ID: a.Job.ID, Attempt: a.Number, Duplicate: a.Job.Duplicate, Kind: a.Job.Kind,
		MessageIDs: a.Job.IDs, StatusCode: a.Status, Outcome: a.Outcome,
		Time: e.cfg.Now(), Elapsed: a.Elapsed,
	}
	if a.Err != nil {
		d.Error = a.Err.Error()
	}
	e.mu.Lock()
	e.deliveries.Push(d)
	e.stats.Attempts++
	switch a.Outcome {
	case emulate.OutcomeDelivered:
		e.stats.Delivered++
	case emulate.OutcomeFailed:
		e.stats.Failed++
	}
	e.mu.Unlock()
}

// Deliveries returns the recorded webhook attempts, oldest first.
func (e *Emulator) Deliveries() []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.deliveries.All()
}
