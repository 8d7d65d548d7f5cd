package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/secureflow/secureflow/internal/action"
	"github.com/secureflow/secureflow/internal/channel/whatsapp"
	"github.com/secureflow/secureflow/internal/config"
	"github.com/secureflow/secureflow/internal/contactcenter/genesys"
	"github.com/secureflow/secureflow/internal/detect"
	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/httpapi"
	"github.com/secureflow/secureflow/internal/keyring"
	"github.com/secureflow/secureflow/internal/kms"
	"github.com/secureflow/secureflow/internal/redact"
	"github.com/secureflow/secureflow/internal/relay"
	"github.com/secureflow/secureflow/internal/retry"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/securelink"
	"github.com/secureflow/secureflow/internal/session"
	"github.com/secureflow/secureflow/internal/store"
	"github.com/secureflow/secureflow/internal/store/sqlite"
	"github.com/secureflow/secureflow/internal/vault"
	"github.com/secureflow/secureflow/internal/waflows"
	"github.com/secureflow/secureflow/internal/webhook"
)

// Program is one running gateway: store, relay and HTTP server. Tests start
// it on port 0 with a temporary database; serve and demo start it for real.
type Program struct {
	cfg      config.Config
	log      *slog.Logger
	listener net.Listener
	server   *http.Server
	mux      *http.ServeMux
	store    store.Store
	relay    *relay.Relay
	vault    *vault.Vault
	sessions *session.Engine
	// links serves secure-link forms.
	links *securelink.Service
	// forms is the WhatsApp Flows data endpoint.
	forms *waflows.Service
	// actions runs data actions for flows and the /v1 invoke route.
	actions httpapi.Actions
	// notifications learns that agents left (Genesys Notifications API).
	notifications *genesys.Notifications
	now           func() time.Time
	registry      *prometheus.Registry
	// stopBackground ends the vault's maintenance loop.
	stopBackground context.CancelFunc
	background     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
	runDone   chan struct{}
}

// Options are what a caller may inject besides configuration.
type Options struct {
	// Logger receives the program's logs; nil logs JSON to stderr through
	// the redacting handler.
	Logger *slog.Logger
	// Listener, when set, is used instead of listening on cfg.Server.Addr.
	Listener net.Listener
	// HTTPClient performs outgoing API calls; nil uses a client with the
	// configured timeouts.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Mount adds handlers to the server (the demo mounts the emulators and
	// its page).
	Mount func(mux *http.ServeMux)
	// PollInterval overrides the relay's fallback poll interval.
	PollInterval time.Duration
	// FlowsFS, when set, is where sessions.flows and sessions.actions are
	// read from (the demo's embedded examples) instead of the disk.
	FlowsFS fs.FS
	// ResolveSecret resolves the action catalog's credential references;
	// nil reads env: and file: references from the process.
	ResolveSecret func(ref string) (secret.Value, error)
	// ActionClient performs data-action calls; nil uses a client with a
	// 60-second timeout.
	ActionClient *http.Client
}

// NewLogger returns the production logger: JSON or text on w, every record
// passed through the redacting handler.
func NewLogger(w *os.File, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(secret.NewRedactingHandler(h))
}

// NewProgram opens the store and key material and builds the server. It
// does not start serving: call Run.
func NewProgram(ctx context.Context, cfg config.Config, opts Options) (*Program, error) {
	p := &Program{cfg: cfg, log: opts.Logger, runDone: make(chan struct{})}
	if p.log == nil {
		p.log = NewLogger(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	p.now = now
	// keys.kek is a Tink keyset or a KMS key URI (hcvault://…, whose
	// token is keys.kms_token or VAULT_TOKEN).
	kmsOpts := []kms.Option{kms.WithToken(cfg.Keys.KMSToken.Value), kms.WithEnviron(os.Environ())}
	if cfg.Keys.KMSCAFile != "" {
		kmsOpts = append(kmsOpts, kms.WithCAFile(cfg.Keys.KMSCAFile))
	}
	kek, err := keyring.ParseKEK(cfg.Keys.KEK.Value, kmsOpts...)
	if err != nil {
		return nil, err
	}
	sealer, err := keyring.LoadOrCreate(cfg.Keys.KeysetFile, kek)
	if err != nil {
		return nil, err
	}
	var flows map[string]*flow.Flow
	var policy *vault.Policy
	var catalog *action.Catalog
	if cfg.Sessions.Enabled {
		var err error
		if catalog, err = loadActions(opts, cfg.Sessions); err != nil {
			return nil, err
		}
		var specs map[string]flow.ActionSpec
		if catalog != nil {
			specs = catalog.Specs()
		}
		if flows, err = loadFlows(opts, cfg.Sessions.Flows, specs); err != nil {
			return nil, err
		}
		if policy, err = revealPolicy(flows, cfg.API.Keys); err != nil {
			return nil, err
		}
	}
	var vkek vault.KEK
	switch cfg.Store.Driver {
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(cfg.Store.SQLitePath), 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		db, err := sqlite.Open(ctx, cfg.Store.SQLitePath)
		if err != nil {
			return nil, err
		}
		p.store = db
		vkek, err = vault.ParseKEK(cfg.Keys.KEK.Value, kmsOpts...)
		if err != nil {
			db.Close()
			return nil, err
		}
		p.vault, err = vault.Open(ctx, vault.Config{Store: db.Vault(), KEK: vkek, Policy: policy, Now: now, Logger: p.log, CreateKeys: true})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("vault: %w", err)
		}
	default:
		return nil, fmt.Errorf("store driver %q is not available in this build", cfg.Store.Driver)
	}

	p.registry = prometheus.NewRegistry()
	p.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	whMetrics := webhook.NewMetrics(p.registry)
	relayMetrics := relay.NewMetrics(p.registry)

	hc := opts.HTTPClient
	waHC, gcHC := hc, hc
	if hc == nil {
		waHC = &http.Client{Timeout: cfg.WhatsApp.RequestTimeout, Transport: upstreamTransport(cfg.Relay.Workers)}
		gcHC = &http.Client{Timeout: cfg.Genesys.RequestTimeout, Transport: upstreamTransport(cfg.Relay.Workers)}
	}
	wa := whatsapp.NewClient(whatsapp.ClientConfig{
		GraphURL: cfg.WhatsApp.GraphURL, APIVersion: cfg.WhatsApp.APIVersion, PhoneNumberID: cfg.WhatsApp.PhoneNumberID,
		AccessToken: cfg.WhatsApp.AccessToken.Value, HTTPClient: waHC,
	})
	tokens := genesys.NewTokenSource(cfg.Genesys.LoginURL, cfg.Genesys.ClientID, cfg.Genesys.ClientSecret.Value, gcHC, now)
	gc := genesys.NewClient(cfg.Genesys.APIURL, cfg.Genesys.IntegrationID, tokens, gcHC)

	var custR, agentR relay.Redactor
	if cfg.Detection.Enabled {
		scanner, err := detect.NewScanner(detect.DefaultRegistry(), detect.WithMinScore(cfg.Detection.MinScore))
		if err != nil {
			p.store.Close()
			return nil, err
		}
		custPolicy, err1 := redact.DefaultCustomerPolicy().Override(cfg.Detection.Customer)
		agentPolicy, err2 := redact.DefaultAgentPolicy().Override(cfg.Detection.Agent)
		if err := errors.Join(err1, err2); err != nil {
			p.store.Close()
			return nil, fmt.Errorf("detection policy: %w", err)
		}
		retention, err := vault.ParseRetention(cfg.Detection.TokenRetention)
		if err == nil {
			err = checkTokenizable(custPolicy, agentPolicy)
		}
		if err != nil {
			p.store.Close()
			return nil, fmt.Errorf("detection: %w", err)
		}
		tok := vaultTokenizer{v: p.vault, retention: retention}
		custR = redact.New(scanner, custPolicy, tok)
		agentR = redact.New(scanner, agentPolicy, tok)
	}
	p.relay, err = relay.New(relay.Config{
		Customer: custR, Agent: agentR,
		Store: p.store, Sealer: sealer, ContactCenter: gc, Channel: wa, Metrics: relayMetrics, Logger: p.log, Now: now,
		Workers: cfg.Relay.Workers, ReorderWindow: cfg.Relay.ReorderWindow,
		RequestTimeout: max(cfg.WhatsApp.RequestTimeout, cfg.Genesys.RequestTimeout),
		Backoff:        retry.Backoff{Initial: cfg.Relay.RetryInitial, Max: cfg.Relay.RetryMax},
		GiveUpAfter:    cfg.Relay.GiveUpAfter, DedupeRetention: cfg.Relay.DedupeRetention,
		PollInterval: opts.PollInterval,
	})
	if err != nil {
		p.store.Close()
		return nil, err
	}

	if cfg.Sessions.Enabled {
		if err := p.wireSessions(ctx, cfg, opts, flows, catalog, sealer, vkek, gc, tokens, gcHC); err != nil {
			p.store.Close()
			return nil, err
		}
	}

	mux := http.NewServeMux()
	mux.Handle("/webhooks/whatsapp", whatsapp.NewWebhook(whatsapp.WebhookConfig{
		AppSecrets:  secretValues(cfg.WhatsApp.AppSecret, cfg.WhatsApp.PreviousAppSecrets),
		VerifyToken: cfg.WhatsApp.VerifyToken.Value,
		MaxBytes:    cfg.Server.MaxBodyBytes, Sink: p.relay.Inbox(), Metrics: whMetrics, Logger: p.log,
	}))
	mux.Handle("/webhooks/genesys", genesys.NewWebhook(genesys.WebhookConfig{
		Secrets:  secretValues(cfg.Genesys.WebhookSecret, cfg.Genesys.PreviousWebhookSecrets),
		MaxBytes: cfg.Server.MaxBodyBytes, Sink: p.relay.Inbox(), Metrics: whMetrics, Logger: p.log,
	}))
	if p.sessions != nil {
		keys, err := apiKeys(cfg.API.Keys)
		if err != nil {
			p.store.Close()
			return nil, err
		}
		var actions httpapi.Actions
		if p.actions != nil {
			actions = apiActions{p.actions}
		}
		mux.Handle("/v1/", httpapi.New(httpapi.Config{Sessions: apiSessions{p.sessions}, Actions: actions, Keys: keys,
			Logger: p.log.With("component", "api"), Now: now, ErrorAliases: apiErrorAliases}))
	}
	if p.links != nil {
		mux.Handle("/s/", p.links.Handler())
	}
	if p.forms != nil {
		// Verifies X-Hub-Signature-256 over the raw body itself
		// (whatsapp.md §3.7): nothing may read the body before it.
		mux.Handle("POST /flows/whatsapp", p.forms.Handler())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", p.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.registry, promhttp.HandlerOpts{Registry: p.registry}))
	if opts.Mount != nil {
		opts.Mount(mux)
	}
	p.mux = mux
	p.server = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.ReadTimeout,
		WriteTimeout:      cfg.Server.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	p.listener = opts.Listener
	if p.listener == nil {
		ln, err := net.Listen("tcp", cfg.Server.Addr)
		if err != nil {
			p.store.Close()
			return nil, fmt.Errorf("listen: %w", err)
		}
		p.listener = ln
	}
	bg, stop := context.WithCancel(context.Background())
	p.stopBackground = stop
	p.background.Add(1)
	go func() {
		defer p.background.Done()
		// Sweeps expired values and re-wraps rows after a key rotation.
		_ = p.vault.Run(bg, vault.RunOptions{})
	}()
	if p.sessions != nil {
		p.background.Add(1)
		go func() {
			defer p.background.Done()
			_ = p.sessions.Run(bg) // fires session timers
		}()
	}
	if db, ok := p.store.(*sqlite.DB); ok && p.links != nil {
		p.background.Add(1)
		go func() {
			defer p.background.Done()
			sweepLinks(bg, db, now, p.log)
		}()
	}
	if p.notifications != nil {
		p.background.Add(1)
		go func() {
			defer p.background.Done()
			_ = p.notifications.Run(bg)
		}()
	}
	return p, nil
}

func secretValues(first config.Secret, rest []config.Secret) []secret.Value {
	out := []secret.Value{first.Value}
	for _, s := range rest {
		out = append(out, s.Value)
	}
	return out
}

// Addr is the address the server listens on.
func (p *Program) Addr() string { return p.listener.Addr().String() }

// URL is the server's base URL.
func (p *Program) URL() string { return "http://" + p.Addr() }

// Registry exposes the metrics registry (tests read it).
func (p *Program) Registry() *prometheus.Registry { return p.registry }

// Store exposes the store (tests and the bench harness inspect it).
func (p *Program) Store() store.Store { return p.store }

func (p *Program) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := p.store.Ping(ctx); err != nil {
		p.log.Warn("not ready", "error", err.Error())
		http.Error(w, "store unreachable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready\n"))
}

// Run serves until ctx ends or Close is called, then shuts down gracefully.
func (p *Program) Run(ctx context.Context) error {
	defer close(p.runDone)
	relayDone := make(chan error, 1)
	go func() { relayDone <- p.relay.Run(context.WithoutCancel(ctx)) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- p.server.Serve(p.listener) }()
	p.log.Info("secureflow listening", "addr", p.Addr(), "version", version)
	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	p.shutdown()
	return err
}

// shutdown stops taking requests, lets in-flight ones finish, then drains
// the relay (queued commits, in-flight deliveries) and closes the store.
func (p *Program) shutdown() {
	p.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Server.ShutdownTimeout)
		defer cancel()
		var errs []error
		if err := p.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		errs = append(errs, p.relay.Close())
		p.stopBackground()
		p.background.Wait()
		if p.sessions != nil {
			errs = append(errs, p.sessions.Close())
		}
		errs = append(errs, p.store.Close())
		p.closeErr = errors.Join(errs...)
		p.log.Info("secureflow stopped")
	})
}

// Close shuts the program down; it is safe to call more than once and
// whether or not Run was called.
func (p *Program) Close() error {
	p.shutdown()
	return p.closeErr
}

// upstreamTransport is the connection pool for one upstream API (the Graph
// API, Genesys Cloud). The relay keeps up to workers requests in flight to
// the same host; http.DefaultTransport keeps only two idle connections per
// host, so every request beyond two would open (and, over TLS, handshake)
// a new connection and close it after. The pool keeps one connection per
// worker alive instead.
func upstreamTransport(workers int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	n := max(workers, 2) + 8 // the workers, plus token refreshes and session control calls
	t.MaxIdleConns = n
	t.MaxIdleConnsPerHost = n
	return t
}
