package genesys

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
	"github.com/secureflow/secureflow/internal/hubsig"
)

// Defaults applied by New to empty Config fields.
const (
	// DefaultIntegrationID is the integration id of the sample payloads in
	// specs/genesys-samples/.
	DefaultIntegrationID   = "73cb7fb7-c2db-4996-88f3-0a83a4fea1da"
	DefaultIntegrationName = "Open Messaging Integration"
	// DefaultTokenTTL is the OAuth client's default token validity
	// (genesys.md §2: 24 hours).
	DefaultTokenTTL = 24 * time.Hour
	// DefaultRetryDelay and DefaultMaxRetries are Genesys's webhook retry
	// policy (genesys.md §1.7: up to 5 retries, 5 s apart).
	DefaultRetryDelay = 5 * time.Second
	DefaultMaxRetries = 5
	// DefaultDeliveryTimeout is Genesys's webhook timeout (genesys.md §1.7: 10 s).
	DefaultDeliveryTimeout = 10 * time.Second
	DefaultHistoryLimit    = 100_000
	DefaultQueueSize       = 10_000
	// MaxAgentText is the agent-typed text limit for Open Messaging
	// (genesys.md §1.9: 4000 characters).
	MaxAgentText = 4000
)

// Errors returned by the agent-side methods.
var (
	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("genesys emulator closed")
	// ErrUnknownConversation means no conversation has that id.
	ErrUnknownConversation = errors.New("unknown conversation")
	// ErrDisconnected means the conversation has been disconnected.
	ErrDisconnected = errors.New("conversation disconnected")
)

// Config configures an Emulator. WebhookSecret (more than 15 characters),
// ClientID and ClientSecret are required.
type Config struct {
	// WebhookURL is the gateway's webhook endpoint (/webhooks/genesys), the
	// integration's outboundNotificationWebhookUrl. It may be set later with
	// SetWebhookURL.
	WebhookURL string
	// WebhookSecret is the integration's
	// outboundNotificationWebhookSignatureSecretToken; it must be longer
	// than 15 characters (genesys.md §1.7). Webhooks carry
	// X-Hub-Signature-256: sha256=<base64 HMAC-SHA256> of the exact body.
	WebhookSecret []byte
	// WebhookHeaders are added to every webhook request (the integration's
	// "user specified headers", genesys.md §1.8).
	WebhookHeaders map[string]string
	// ClientID and ClientSecret are the OAuth client credentials the token
	// endpoint accepts (genesys.md §2).
	ClientID, ClientSecret string
	// IntegrationID is the Open Messaging integration id in the inbound API
	// path and in outbound webhooks; empty means DefaultIntegrationID.
	IntegrationID string
	// IntegrationName is the nickname outbound webhooks carry in
	// channel.from (genesys.md §1.6); empty means DefaultIntegrationName.
	IntegrationName string
	// TokenTTL is the lifetime (expires_in) of issued tokens; zero means
	// DefaultTokenTTL.
	TokenTTL time.Duration
	// RetryDelay is the pause between webhook retries; zero means
	// DefaultRetryDelay. Tests use short delays.
	RetryDelay time.Duration
	// MaxRetries is the number of retries after a timeout, 429 or 5xx; zero
	// means DefaultMaxRetries, a negative value means none.
	MaxRetries int
	// DeliveryTimeout bounds each webhook attempt; zero means
	// DefaultDeliveryTimeout.
	DeliveryTimeout time.Duration
	// AutoReceipts makes every accepted inbound message produce a receipt
	// webhook (type "Receipt", status "Published").
	AutoReceipts bool
	// QueueSize bounds the webhook deliveries waiting for a worker; callers
	// block (respecting their context) when it is full. Zero means
	// DefaultQueueSize.
	QueueSize int
	// HistoryLimit caps each recorded history and the idempotency,
	// conversation and token memories. Zero means DefaultHistoryLimit.
	HistoryLimit int
	// Client makes the webhook requests. Nil means a client with connection
	// reuse tuned for many concurrent deliveries to one host.
	Client *http.Client
	// Logger receives the emulator's logs. Nil discards them.
	Logger *slog.Logger
	// Now is the clock for timestamps and token expiry. Nil means time.Now.
	Now func() time.Time

	// ManualAgent, when set, leaves new conversations waiting in their
	// queue (customer and acd participants only) until an agent is
	// connected with ConnectAgent or the control API. By default an agent
	// (DefaultAgentUserID) is connected as soon as a conversation is
	// created. (A "default true" switch is spelled as its negation so that
	// the zero Config keeps meaning "defaults", like every other field.)
	ManualAgent bool
	// QueueID is the queue new conversations are routed through; empty
	// means DefaultQueueID.
	QueueID string
	// Queues maps queue names to ids, for transfers by queueName; nil
	// means {DefaultQueueName: DefaultQueueID}.
	Queues map[string]string
	// HeartbeatInterval is the period of the notification socket's
	// heartbeat; zero means DefaultHeartbeatInterval. Tests use short ones.
	HeartbeatInterval time.Duration
	// ChannelTTL is the lifetime of a notification channel (its expires);
	// zero means DefaultChannelTTL. It is measured with Now.
	ChannelTTL time.Duration
}

// Emulator plays Genesys Cloud towards the gateway: the OAuth token
// endpoint, the Open Messaging inbound API, and the signed outbound webhooks
// that agent messages become. It is safe for concurrent use.
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

	mu            sync.Mutex
	seq           uint64
	tokens        *emulate.BoundedMap[string, time.Time]     // access token → expiry
	seen          *emulate.BoundedMap[string, []byte]        // channel.messageId → response body
	conversations *emulate.BoundedMap[string, *Conversation] // conversationId → conversation
	active        *emulate.BoundedMap[string, string]        // customer id → connected conversationId
	outbound      *emulate.BoundedMap[string, string]        // outbound message id → conversationId
	received      *emulate.Ring[ReceivedMessage]
	agentMessages *emulate.Ring[AgentMessage]
	receipts      *emulate.Ring[Receipt]
	deliveries    *emulate.Ring[Delivery]
	rawBodies     *emulate.Ring[[]byte]
	transfers     *emulate.Ring[Transfer]
	published     *emulate.Ring[Notification]
	channels      []*notifChannel // notification channels, oldest first, at most MaxChannels
	stats         Stats

	sockets sync.WaitGroup // connected notification WebSockets
}

// New validates cfg, fills in defaults and starts the delivery workers.
func New(cfg Config) (*Emulator, error) {
	var errs []error
	// genesys.md §1.7/§1.8: the signature secret must be longer than 15 characters.
	if len(cfg.WebhookSecret) <= 15 {
		errs = append(errs, errors.New("genesys emulator: WebhookSecret must be longer than 15 characters"))
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		errs = append(errs, errors.New("genesys emulator: ClientID and ClientSecret are required"))
	}
	if cfg.TokenTTL < 0 || cfg.RetryDelay < 0 || cfg.DeliveryTimeout < 0 || cfg.QueueSize < 0 || cfg.HistoryLimit < 0 ||
		cfg.HeartbeatInterval < 0 || cfg.ChannelTTL < 0 {
		errs = append(errs, errors.New("genesys emulator: durations and sizes must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.IntegrationID = orDefault(cfg.IntegrationID, DefaultIntegrationID)
	cfg.IntegrationName = orDefault(cfg.IntegrationName, DefaultIntegrationName)
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = DefaultRetryDelay
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
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
	cfg.WebhookHeaders = maps.Clone(cfg.WebhookHeaders)
	cfg.QueueID = orDefault(cfg.QueueID, DefaultQueueID)
	if cfg.Queues == nil {
		cfg.Queues = map[string]string{DefaultQueueName: DefaultQueueID}
	} else {
		cfg.Queues = maps.Clone(cfg.Queues)
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.ChannelTTL == 0 {
		cfg.ChannelTTL = DefaultChannelTTL
	}
	n := cfg.HistoryLimit
	e := &Emulator{
		cfg:           cfg,
		log:           cfg.Logger.With("component", "emulator.genesys"),
		faults:        newFaultState(),
		done:          make(chan struct{}),
		tokens:        emulate.NewBoundedMap[string, time.Time](n),
		seen:          emulate.NewBoundedMap[string, []byte](n),
		conversations: emulate.NewBoundedMap[string, *Conversation](n),
		active:        emulate.NewBoundedMap[string, string](n),
		outbound:      emulate.NewBoundedMap[string, string](n),
		received:      emulate.NewRing[ReceivedMessage](n),
		agentMessages: emulate.NewRing[AgentMessage](n),
		receipts:      emulate.NewRing[Receipt](n),
		deliveries:    emulate.NewRing[Delivery](n),
		rawBodies:     emulate.NewRing[[]byte](n),
		transfers:     emulate.NewRing[Transfer](n),
		published:     emulate.NewRing[Notification](n),
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
			for k, v := range e.cfg.WebhookHeaders {
				h.Set(k, v)
			}
			h.Set("Content-Type", "application/json")
			// genesys.md §1.7: X-Hub-Signature-256: sha256=<base64>.
			h.Set(hubsig.Header, j.Signature)
		},
		// genesys.md §1.5: a non-2xx answer fails the message.
		Success: func(status int) bool { return status >= 200 && status < 300 },
		// genesys.md §1.7: retry on timeout (and, by inference, any network
		// error), 429 and 5xx; up to MaxRetries times, RetryDelay apart.
		Retry: func(attempt, status int, err error) (time.Duration, bool) {
			retryable := err != nil || status == http.StatusTooManyRequests || status >= 500
			return e.cfg.RetryDelay, retryable && attempt <= e.cfg.MaxRetries
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

func orDefaultInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Handler serves the OAuth endpoint, the Open Messaging inbound API, the
// conversation API and the control API, at the absolute paths documented in
// docs/emulators.md (all under /emulator/genesys/).
func (e *Emulator) Handler() http.Handler { return e.mux }

// SetWebhookURL changes where webhooks are delivered, for set-ups where the
// gateway's address is known only after the emulator is built.
func (e *Emulator) SetWebhookURL(url string) { e.webhookURL.Store(&url) }

// Close stops the delivery workers, abandons pending deliveries, releases
// calls held by the Timeout fault, closes the notification sockets, and
// waits for its goroutines.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		// Under e.mu, so that no socket registers after Wait has begun.
		e.mu.Lock()
		close(e.done)
		e.mu.Unlock()
		e.disp.Close()
	})
	e.sockets.Wait()
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

// Faults returns the current faults, with the counters that remain.
func (e *Emulator) Faults() Faults { return e.faults.Get() }

// WaitIdle blocks until no webhook delivery is queued, in flight, held by
// the Reorder fault or waiting for a retry, or until ctx ends.
func (e *Emulator) WaitIdle(ctx context.Context) error { return e.disp.WaitIdle(ctx) }

// Reset forgets every record, conversation, transfer and counter, clears
// the faults, and drops the webhook deliveries not yet in flight. Issued
// tokens, notification channels, their subscriptions and sockets stay, so
// that a connected gateway keeps working.
func (e *Emulator) Reset() {
	_ = e.SetFaults(Faults{})
	dropped := e.disp.Drop()
	e.mu.Lock()
	e.seen.Reset()
	e.conversations.Reset()
	e.active.Reset()
	e.outbound.Reset()
	e.received.Reset()
	e.agentMessages.Reset()
	e.receipts.Reset()
	e.deliveries.Reset()
	e.rawBodies.Reset()
	e.transfers.Reset()
	e.published.Reset()
	e.stats = Stats{}
	e.mu.Unlock()
	e.log.Info("reset", "dropped_deliveries", dropped)
}

// Stats are running totals since New or the last Reset. Unlike the
// histories they are not capped.
type Stats struct {
	// TokenGrants counts tokens issued.
	TokenGrants int64 `json:"tokenGrants"`
	// Received counts inbound messages and structured responses accepted
	// (resends excluded).
	Received int64 `json:"received"`
	// Resends counts inbound calls that repeated a known channel.messageId.
	Resends int64 `json:"resends"`
	// Rejected counts inbound API calls answered with an error, faults included.
	Rejected int64 `json:"rejected"`
	// Events counts accepted typing events.
	Events int64 `json:"events"`
	// Receipts counts accepted receipts.
	Receipts int64 `json:"receipts"`
	// AgentMessages counts agent messages queued as webhooks.
	AgentMessages int64 `json:"agentMessages"`
	// Attempts counts webhook delivery attempts.
	Attempts int64 `json:"attempts"`
	// Delivered counts deliveries acknowledged with a 2xx.
	Delivered int64 `json:"delivered"`
	// Failed counts deliveries given up.
	Failed int64 `json:"failed"`
	// Pending is the number of deliveries queued, in flight, held or
	// waiting for a retry, at the time of the call.
	Pending int64 `json:"pending"`
	// Subscriptions counts accepted PUT and POST subscription calls.
	Subscriptions int64 `json:"subscriptions"`
	// Notifications counts events written to notification sockets (one
	// per socket; heartbeats excluded).
	Notifications int64 `json:"notifications"`
}

// Stats returns the running totals.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	s := e.stats
	e.mu.Unlock()
	s.Pending = e.disp.Pending()
	return s
}

// Resends returns how many inbound calls repeated a channel.messageId
// already accepted: each was answered like the first and not added to the
// transcript again.
func (e *Emulator) Resends() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(e.stats.Resends)
}

// TokenGrants returns how many OAuth tokens were issued, so tests can check
// that the gateway caches its token.
func (e *Emulator) TokenGrants() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(e.stats.TokenGrants)
}

// Delivery is one webhook delivery attempt.
type Delivery struct {
	// ID numbers the webhook body; a deliberate duplicate shares its ID.
	ID uint64 `json:"id"`
	// Attempt is 1 for the first try of this copy, 2 for its first retry...
	Attempt int `json:"attempt"`
	// Duplicate marks the extra copy sent by the DuplicateRate fault.
	Duplicate bool `json:"duplicate"`
	// Kind is "message" (an agent message) or "receipt".
	Kind string `json:"kind"`
	// MessageIDs are the Genesys message ids the body carries.
	MessageIDs []string `json:"messageIds"`
	// StatusCode is the gateway's HTTP status, 0 when no response came.
	StatusCode int `json:"statusCode"`
	// Error describes a network error or timeout.
	Error string `json:"error,omitempty"`
	// Outcome is "delivered", "retrying" (another attempt is scheduled) or
	// "failed" (given up).
	Outcome string `json:"outcome"`
	// Time is when the attempt ended, by the emulator's clock.
	Time time.Time `json:"time"`
	// Elapsed is how long the attempt took.
	Elapsed time.Duration `json:"elapsedNs"`
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
