package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/secureflow/secureflow/examples"
	"github.com/secureflow/secureflow/internal/action"
	"github.com/secureflow/secureflow/internal/config"
	"github.com/secureflow/secureflow/internal/demo"
	gcemu "github.com/secureflow/secureflow/internal/emulator/genesys"
	payemu "github.com/secureflow/secureflow/internal/emulator/payments"
	waemu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/keyring"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/session"
	"github.com/secureflow/secureflow/internal/waflows"
)

// stack is a gateway wired to both emulators on one HTTP server: what
// `secureflow demo` runs, and what the end-to-end tests and the load
// harness start.
type stack struct {
	*Program
	WA *waemu.Emulator
	GC *gcemu.Emulator
	// Pay plays the upstream systems the example flows' data actions call.
	Pay *payemu.Emulator
	// appSecret and genesysSecret sign webhooks in tests and the load
	// harness.
	appSecret, genesysSecret []byte
}

// stackOptions configure a stack.
type stackOptions struct {
	// Addr to listen on ("127.0.0.1:0" for tests).
	Addr string
	// DataDir holds the database, the KEK and the keyset.
	DataDir string
	Logger  *slog.Logger
	// Tune adjusts the configuration before start (tests shorten timers).
	Tune func(*config.Config)
	// WA and GC adjust the emulators' configuration.
	WA func(*waemu.Config)
	GC func(*gcemu.Config)
	// PollInterval overrides the relay's fallback poll.
	PollInterval time.Duration
	// Mount adds more handlers (the load harness mounts its baseline).
	Mount func(*http.ServeMux)
	// FlowsFromDisk reads sessions.flows and sessions.actions from the
	// disk instead of the embedded examples (tests with their own flows).
	FlowsFromDisk bool
}

// paymentsHost is the reserved host name the example catalog's actions
// call; the stack routes it to its own listener, where the upstream
// emulator is mounted.
const paymentsHost = "payments.emulator.test"

const (
	demoPhoneNumberID = "106540352242922"
	demoIntegration   = "73cb7fb7-c2db-4996-88f3-0a83a4fea1da"
	demoClientID      = "secureflow-demo-client"
)

func randomSecret() secret.Value {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return secret.FromString(hex.EncodeToString(b))
}

// demoKEK loads the demo's key-encryption key from the data directory,
// creating it (mode 0600) on first use, so a restart on the same directory
// can read its own database.
func demoKEK(dir string) (secret.Value, error) {
	path := filepath.Join(dir, "kek.json")
	b, err := os.ReadFile(path)
	if err == nil {
		return secret.New(b), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return secret.Value{}, fmt.Errorf("demo KEK: %w", err)
	}
	kek, err := keyring.NewKEK()
	if err != nil {
		return secret.Value{}, err
	}
	if err := os.WriteFile(path, kek.Reveal(), 0o600); err != nil {
		return secret.Value{}, fmt.Errorf("demo KEK: %w", err)
	}
	return kek, nil
}

func lit(v secret.Value) config.Secret { return config.Secret{Ref: "generated", Value: v} }

// newStack builds a gateway and both emulators on one listener.
func newStack(ctx context.Context, o stackOptions) (*stack, error) {
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	ln, err := netListen(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	kek, err := demoKEK(o.DataDir)
	if err != nil {
		ln.Close()
		return nil, err
	}
	appSecret, verifyToken, accessToken := randomSecret(), randomSecret(), randomSecret()
	clientSecret, webhookSecret := randomSecret(), randomSecret()

	cfg := config.Default()
	cfg.Server.Addr = ln.Addr().String()
	cfg.Store.SQLitePath = filepath.Join(o.DataDir, "secureflow.db")
	cfg.Keys.KeysetFile = filepath.Join(o.DataDir, "keyset.json")
	cfg.Keys.KEK = lit(kek)
	cfg.WhatsApp.AppSecret = lit(appSecret)
	cfg.WhatsApp.VerifyToken = lit(verifyToken)
	cfg.WhatsApp.AccessToken = lit(accessToken)
	cfg.WhatsApp.PhoneNumberID = demoPhoneNumberID
	cfg.WhatsApp.GraphURL = base + "/emulator/whatsapp/graph"
	cfg.Genesys.APIURL = base + "/emulator/genesys"
	cfg.Genesys.LoginURL = base + "/emulator/genesys/login"
	cfg.Genesys.ClientID = demoClientID
	cfg.Genesys.ClientSecret = lit(clientSecret)
	cfg.Genesys.IntegrationID = demoIntegration
	cfg.Genesys.WebhookSecret = lit(webhookSecret)
	cfg.Relay.RetryInitial = 200 * time.Millisecond
	cfg.Relay.RetryMax = 5 * time.Second
	cfg.Sessions.Enabled = true
	cfg.Sessions.Flows = []string{"flows"}
	cfg.Sessions.Actions = "actions.yaml"
	cfg.Sessions.ActionHosts = []string{paymentsHost}
	cfg.Sessions.PublicURL = base
	// WhatsApp Flows: a fresh endpoint key each start; the emulator
	// encrypts to its public half, as Meta does with the registered key.
	flowKey, err := waflows.GenerateKey()
	if err != nil {
		ln.Close()
		return nil, err
	}
	flowPEM, err := waflows.PrivateKeyPEM(ctx, flowKey, nil)
	if err != nil {
		ln.Close()
		return nil, err
	}
	cfg.WhatsApp.Flows.Enabled = true
	cfg.WhatsApp.Flows.PrivateKey = lit(secret.New(flowPEM))
	cfg.WhatsApp.Flows.IDs = map[string]string{"reset-password-form": "demo-flow-password-reset"}
	if o.Tune != nil {
		o.Tune(&cfg)
	}

	log := o.Logger
	if log == nil {
		log = NewLogger(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	}
	// The emulators stand in for Meta and Genesys; they are given the same
	// credentials the gateway is configured with, as the real platforms
	// would hold them.
	waCfg := waemu.Config{
		WebhookURL: base + "/webhooks/whatsapp", AppSecret: appSecret.Reveal(), VerifyToken: string(verifyToken.Reveal()),
		AccessToken: string(accessToken.Reveal()), PhoneNumberID: demoPhoneNumberID, AutoStatuses: true,
		RetrySchedule:    []time.Duration{200 * time.Millisecond, time.Second, 5 * time.Second, 30 * time.Second},
		Logger:           log.With("component", "emulator.whatsapp"),
		FlowsEndpointURL: base + "/flows/whatsapp", FlowsPublicKey: &flowKey.PublicKey,
	}
	if o.WA != nil {
		o.WA(&waCfg)
	}
	wa, err := waemu.New(waCfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	gcCfg := gcemu.Config{
		WebhookURL: base + "/webhooks/genesys", WebhookSecret: webhookSecret.Reveal(), ClientID: demoClientID,
		ClientSecret: string(clientSecret.Reveal()), IntegrationID: demoIntegration, TokenTTL: time.Hour,
		RetryDelay: 500 * time.Millisecond, Logger: log.With("component", "emulator.genesys"),
		// The queues the example flows transfer to.
		Queues: map[string]string{
			"Payments": "5a1e0c2b-0001-4000-8000-000000000001", "Identity Review": "5a1e0c2b-0002-4000-8000-000000000002",
			"Customer Care": "5a1e0c2b-0003-4000-8000-000000000003", "Support": "5a1e0c2b-0004-4000-8000-000000000004",
		},
	}
	if o.GC != nil {
		o.GC(&gcCfg)
	}
	gc, err := gcemu.New(gcCfg)
	if err != nil {
		wa.Close()
		ln.Close()
		return nil, err
	}
	payToken := string(randomSecret().Reveal())
	pay := payemu.New(payemu.Config{Prefix: "/emulator/payments/", Token: payToken})
	var flowsFS fs.FS = examples.FS
	if o.FlowsFromDisk {
		flowsFS = nil
	}
	// Data actions to payments.emulator.test reach this listener.
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	actionClient := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, _, _ := net.SplitHostPort(addr); host == paymentsHost {
				addr = ln.Addr().String()
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}}
	var demoEngine *session.Engine
	p, err := NewProgram(ctx, cfg, Options{
		Logger:       log,
		Listener:     ln,
		PollInterval: o.PollInterval,
		FlowsFS:      flowsFS,
		ActionClient: actionClient,
		ResolveSecret: func(ref string) (secret.Value, error) {
			if ref == "env:SECUREFLOW_PAYMENTS_TOKEN" {
				return secret.FromString(payToken), nil
			}
			return action.ResolveRef(ref, os.LookupEnv)
		},
		Mount: func(mux *http.ServeMux) {
			mux.Handle("/emulator/whatsapp/", wa.Handler())
			mux.Handle("/emulator/genesys/", gc.Handler())
			mux.Handle("/emulator/payments/", pay)
			// The demo page's "bot" hands a conversation to a self-service
			// flow, as a Genesys bot would through POST /v1/secure-sessions.
			mux.HandleFunc("POST /demo/secure-sessions", demoStart(&demoEngine))
			mux.Handle("/", demo.Handler())
			if o.Mount != nil {
				o.Mount(mux)
			}
		},
	})
	if err != nil {
		wa.Close()
		gc.Close()
		pay.Close()
		ln.Close()
		return nil, err
	}
	demoEngine = p.sessions
	return &stack{Program: p, WA: wa, GC: gc, Pay: pay, appSecret: appSecret.Reveal(), genesysSecret: webhookSecret.Reveal()}, nil
}

func netListen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// Close stops the gateway, then the emulators.
func (s *stack) Close() error {
	err := errors.Join(s.Program.Close(), s.WA.Close(), s.GC.Close())
	s.Pay.Close()
	return err
}

// demoStart serves POST /demo/secure-sessions for the demo page: it starts
// a self-service session as a bot would, without an API key (the demo only).
func demoStart(eng **session.Engine) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Flow         string         `json:"flow"`
			Conversation string         `json:"conversation"`
			Inputs       map[string]any `json:"inputs"`
		}
		if *eng == nil || json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req) != nil {
			http.Error(w, "want {flow, conversation, inputs}", http.StatusBadRequest)
			return
		}
		v, err := (*eng).Start(r.Context(), session.StartRequest{Flow: req.Flow, Conversation: req.Conversation, Inputs: req.Inputs, Principal: "demo"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": v.ID, "status": v.Status})
	}
}
