package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secureflow/secureflow/internal/kms"
	"github.com/secureflow/secureflow/internal/secret"
)

// ErrInvalid is wrapped by every validation error Load returns.
var ErrInvalid = errors.New("invalid configuration")

// Config is the whole configuration of one secureflow process.
type Config struct {
	Server    Server    `yaml:"server"`
	Store     Store     `yaml:"store"`
	Keys      Keys      `yaml:"keys"`
	WhatsApp  WhatsApp  `yaml:"whatsapp"`
	Genesys   Genesys   `yaml:"genesys"`
	Relay     Relay     `yaml:"relay"`
	Detection Detection `yaml:"detection"`
	Sessions  Sessions  `yaml:"sessions"`
	API       API       `yaml:"api"`
	Log       Log       `yaml:"log"`
}

// Sessions configures secure sessions: the flows, their data actions and
// secure links.
type Sessions struct {
	// Enabled runs secure sessions (agent commands, the /v1 API, links).
	Enabled bool `yaml:"enabled"`
	// Flows lists flow files or directories of *.yaml flows.
	Flows []string `yaml:"flows"`
	// Actions is the data-action catalog: inputs, outputs and how to call
	// each action.
	Actions string `yaml:"actions"`
	// ActionHosts lists the hosts data actions may call (exact, or
	// "*.example.com").
	ActionHosts []string `yaml:"action_hosts"`
	// HoldAgentMessages holds agent messages sent during a session until
	// it ends; false delivers them at once.
	HoldAgentMessages bool `yaml:"hold_agent_messages"`
	// StepTimeout is the inactivity timeout of steps that set none.
	StepTimeout time.Duration `yaml:"step_timeout"`
	// SessionTimeout bounds sessions of flows that set no timeout.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// IdentifierRetention keeps captured card numbers and national ids in
	// the vault: session, days:N or permanent.
	IdentifierRetention string `yaml:"identifier_retention"`
	// PublicURL is the gateway's public base URL, which secure links
	// start with (https outside tests).
	PublicURL string `yaml:"public_url"`
	// LinkUnopenedTTL and LinkOpenedTTL expire secure links not opened,
	// and opened but not submitted.
	LinkUnopenedTTL time.Duration `yaml:"link_unopened_ttl"`
	LinkOpenedTTL   time.Duration `yaml:"link_opened_ttl"`
	// LinkMaxAttempts is how many invalid submissions spend a link.
	LinkMaxAttempts int `yaml:"link_max_attempts"`
	// ClientIPHeader names the header a trusted reverse proxy puts the
	// client's address in (e.g. X-Forwarded-For, whose first entry is
	// used), for secure links' per-client rate limits; empty uses the
	// connection's address.
	ClientIPHeader string `yaml:"client_ip_header"`
	// LinkKey keys the secure links' CSRF tokens (at least 32 bytes);
	// generated at start when not set, which invalidates open forms on a
	// restart.
	LinkKey Secret `yaml:"link_key"`
}

// API configures the gateway's REST API (/v1).
type API struct {
	// Keys are the API credentials: id, hash ("sha256:<hex>", made by
	// "secureflow apikey new") and scopes.
	Keys []APIKey `yaml:"keys"`
}

// APIKey is one API credential; the key itself is never stored.
type APIKey struct {
	ID     string   `yaml:"id"`
	Hash   string   `yaml:"hash"`
	Scopes []string `yaml:"scopes"`
}

// Detection configures in-line protection of secrets volunteered in chat.
type Detection struct {
	// Enabled scans every customer and agent message.
	Enabled bool `yaml:"enabled"`
	// MinScore ignores findings scored below it (0..1).
	MinScore float64 `yaml:"min_score"`
	// Customer overrides the action per entity for customer messages:
	// entity name (e.g. CREDIT_CARD) to tokenize, mask, drop, allow or
	// block. From the environment: CREDIT_CARD=mask,EMAIL_ADDRESS=drop.
	Customer map[string]string `yaml:"customer"`
	// Agent overrides the action per entity for agent messages.
	Agent map[string]string `yaml:"agent"`
	// TokenRetention is how long tokenized values live in the vault:
	// session, days:N or permanent (a CVV is always ephemeral).
	TokenRetention string `yaml:"token_retention"`
}

// Server configures the HTTP listener.
type Server struct {
	// Addr is the listen address, e.g. ":8080" or "127.0.0.1:8080".
	Addr string `yaml:"addr"`
	// ReadHeaderTimeout bounds how long a client may take to send headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing a response.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// ShutdownTimeout bounds graceful shutdown: in-flight requests and relay
	// work get this long to finish.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxBodyBytes caps every request body. WhatsApp payloads can reach 3 MB
	// (whatsapp.md §1.2), so the default is 4 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// Store selects and configures persistence.
type Store struct {
	// Driver is "sqlite" (the embedded default) or "postgres".
	Driver string `yaml:"driver"`
	// SQLitePath is the database file for the sqlite driver.
	SQLitePath string `yaml:"sqlite_path"`
	// PostgresURL is the connection URL for the postgres driver.
	PostgresURL Secret `yaml:"postgres_url"`
}

// Keys configures encryption at rest.
type Keys struct {
	// KeysetFile holds the data keyset, encrypted under the KEK.
	KeysetFile string `yaml:"keyset_file"`
	// KEK is the key-encryption key: a Tink AEAD keyset in JSON, normally a
	// reference such as file:/etc/secureflow/kek.json or env:SECUREFLOW_KEK,
	// or a HashiCorp Vault transit key URI,
	// hcvault://HOST[:PORT]/MOUNT/keys/NAME (see docs/vault.md).
	KEK Secret `yaml:"kek"`
	// KMSToken is the Vault token for a hcvault:// KEK (it needs update on
	// MOUNT/encrypt/NAME and MOUNT/decrypt/NAME); when empty, VAULT_TOKEN
	// from the environment is used.
	KMSToken Secret `yaml:"kms_token"`
	// KMSCAFile is a PEM file of the CAs Vault's TLS certificate must chain
	// to, for a Vault with a private CA; empty means the system's roots.
	KMSCAFile string `yaml:"kms_ca_file"`
}

// WhatsApp configures the WhatsApp Cloud API side.
type WhatsApp struct {
	// AppSecret signs webhooks (X-Hub-Signature-256, whatsapp.md §1.6).
	AppSecret Secret `yaml:"app_secret"`
	// PreviousAppSecrets are still accepted while a secret is rotated.
	PreviousAppSecrets []Secret `yaml:"previous_app_secrets"`
	// VerifyToken is the string Meta echoes in the GET handshake (§1.1).
	VerifyToken Secret `yaml:"verify_token"`
	// AccessToken is the system-user token for the Graph API (§2).
	AccessToken Secret `yaml:"access_token"`
	// PhoneNumberID is the business number messages are sent from.
	PhoneNumberID string `yaml:"phone_number_id"`
	// GraphURL is the Graph API base URL.
	GraphURL string `yaml:"graph_url"`
	// APIVersion is the Graph API version path segment, e.g. "v24.0".
	APIVersion string `yaml:"api_version"`
	// RequestTimeout bounds one call to the Graph API.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// Flows configures WhatsApp Flows capture (capture: whatsapp_flow).
	Flows WhatsAppFlows `yaml:"flows"`
}

// WhatsAppFlows configures the WhatsApp Flows data endpoint
// (/flows/whatsapp, whatsapp.md §3).
type WhatsAppFlows struct {
	// Enabled serves the endpoint and lets flows capture by WhatsApp Flow.
	Enabled bool `yaml:"enabled"`
	// PrivateKey is the endpoint's RSA-2048 private key in PEM, as
	// "secureflow whatsapp-flows keygen" writes it (sealed under the KEK, or
	// plaintext PKCS#8); normally a file: reference.
	PrivateKey Secret `yaml:"private_key"`
	// IDs maps "<flow id>/<step id>" (or "<flow id>") to the Meta Flow ID
	// published for that step.
	IDs map[string]string `yaml:"ids"`
	// TokenTTL expires flow tokens not completed in time.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// MaxAttempts is how many invalid submissions spend a flow token.
	MaxAttempts int `yaml:"max_attempts"`
}

// Genesys configures the Genesys Cloud Open Messaging side.
type Genesys struct {
	// Region is the Genesys Cloud domain, e.g. "mypurecloud.ie"; APIURL and
	// LoginURL default to https://api.<region> and https://login.<region>
	// (genesys.md §2).
	Region string `yaml:"region"`
	// APIURL overrides the API base URL.
	APIURL string `yaml:"api_url"`
	// LoginURL overrides the OAuth base URL.
	LoginURL string `yaml:"login_url"`
	// ClientID is the OAuth client-credentials client id.
	ClientID string `yaml:"client_id"`
	// ClientSecret is the OAuth client secret.
	ClientSecret Secret `yaml:"client_secret"`
	// IntegrationID is the Open Messaging integration id.
	IntegrationID string `yaml:"integration_id"`
	// WebhookSecret is the integration's
	// outboundNotificationWebhookSignatureSecretToken (> 15 characters,
	// genesys.md §1.7).
	WebhookSecret Secret `yaml:"webhook_secret"`
	// PreviousWebhookSecrets are still accepted while a secret is rotated.
	PreviousWebhookSecrets []Secret `yaml:"previous_webhook_secrets"`
	// RequestTimeout bounds one call to the Genesys API.
	RequestTimeout time.Duration `yaml:"request_timeout"`
}

// Relay configures message processing and delivery.
type Relay struct {
	// Workers is the number of deliveries in flight at once (across
	// conversations; one conversation has at most one in flight).
	Workers int `yaml:"workers"`
	// ReorderWindow holds each inbound event this long so that events
	// delivered out of order by the channel are forwarded in the order of
	// their own timestamps. Zero forwards at once in acceptance order.
	ReorderWindow time.Duration `yaml:"reorder_window"`
	// DedupeRetention is how long webhook ids are remembered. Meta retries
	// for up to 7 days (whatsapp.md §1.7), so it must be at least that.
	DedupeRetention time.Duration `yaml:"dedupe_retention"`
	// RetryInitial is the first retry delay after a retryable failure.
	RetryInitial time.Duration `yaml:"retry_initial"`
	// RetryMax caps the retry delay.
	RetryMax time.Duration `yaml:"retry_max"`
	// GiveUpAfter dead-letters a message still failing after this long.
	GiveUpAfter time.Duration `yaml:"give_up_after"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is json or text.
	Format string `yaml:"format"`
}

// Default returns the configuration used when a field is not set.
func Default() Config {
	return Config{
		Server: Server{
			Addr:              ":8080",
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			ShutdownTimeout:   20 * time.Second,
			MaxBodyBytes:      4 << 20,
		},
		Store: Store{Driver: "sqlite", SQLitePath: "secureflow.db"},
		Keys:  Keys{KeysetFile: "keyset.json"},
		WhatsApp: WhatsApp{GraphURL: "https://graph.facebook.com", APIVersion: "v24.0", RequestTimeout: 15 * time.Second,
			Flows: WhatsAppFlows{TokenTTL: 30 * time.Minute, MaxAttempts: 5}},
		Genesys: Genesys{RequestTimeout: 15 * time.Second},
		Relay: Relay{
			Workers:         32,
			DedupeRetention: 8 * 24 * time.Hour,
			RetryInitial:    500 * time.Millisecond,
			RetryMax:        5 * time.Minute,
			GiveUpAfter:     24 * time.Hour,
		},
		Detection: Detection{Enabled: true, MinScore: 0.5, TokenRetention: "days:30"},
		Sessions: Sessions{
			HoldAgentMessages: true, StepTimeout: 10 * time.Minute, SessionTimeout: 30 * time.Minute,
			IdentifierRetention: "days:30", LinkUnopenedTTL: 5 * time.Minute, LinkOpenedTTL: 15 * time.Minute,
			LinkMaxAttempts: 5,
		},
		Log: Log{Level: "info", Format: "json"},
	}
}

// Load reads the YAML file at path (none when path is empty), applies
// environment overrides from environ (as os.Environ returns it), resolves
// secret references and validates the result. Warnings (such as a literal
// secret in the file) are returned alongside a valid configuration.
func Load(path string, environ []string) (Config, []string, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, nil, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, nil, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
		}
	}
	env := envMap(environ)
	var problems []error
	problems = append(problems, applyEnv(&cfg, env)...)
	warnings, errs := resolveSecrets(&cfg, env)
	problems = append(problems, errs...)
	cfg.fillDerived()
	problems = append(problems, cfg.validate()...)
	if len(problems) > 0 {
		return Config{}, warnings, fmt.Errorf("%w:\n%w", ErrInvalid, errors.Join(problems...))
	}
	return cfg, warnings, nil
}

func (c *Config) fillDerived() {
	if c.Genesys.Region != "" {
		if c.Genesys.APIURL == "" {
			c.Genesys.APIURL = "https://api." + c.Genesys.Region
		}
		if c.Genesys.LoginURL == "" {
			c.Genesys.LoginURL = "https://login." + c.Genesys.Region
		}
	}
}

func (c *Config) validate() []error {
	var p []error
	bad := func(field, format string, a ...any) {
		p = append(p, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if c.Server.Addr == "" {
		bad("server.addr", "required")
	}
	for name, d := range map[string]time.Duration{
		"server.read_header_timeout": c.Server.ReadHeaderTimeout,
		"server.read_timeout":        c.Server.ReadTimeout,
		"server.write_timeout":       c.Server.WriteTimeout,
		"server.shutdown_timeout":    c.Server.ShutdownTimeout,
		"whatsapp.request_timeout":   c.WhatsApp.RequestTimeout,
		"genesys.request_timeout":    c.Genesys.RequestTimeout,
		"relay.retry_initial":        c.Relay.RetryInitial,
		"relay.retry_max":            c.Relay.RetryMax,
		"relay.give_up_after":        c.Relay.GiveUpAfter,
	} {
		if d <= 0 {
			bad(name, "must be a positive duration")
		}
	}
	if c.Server.MaxBodyBytes < 1<<10 {
		bad("server.max_body_bytes", "must be at least 1024")
	}
	switch c.Store.Driver {
	case "sqlite":
		if c.Store.SQLitePath == "" {
			bad("store.sqlite_path", "required with driver sqlite")
		}
	case "postgres":
		if c.Store.PostgresURL.Value.IsZero() {
			bad("store.postgres_url", "required with driver postgres")
		}
	default:
		bad("store.driver", "must be sqlite or postgres, got %q", c.Store.Driver)
	}
	if c.Keys.KeysetFile == "" {
		bad("keys.keyset_file", "required")
	}
	if c.Keys.KEK.Value.IsZero() {
		bad("keys.kek", "required (for example file:/etc/secureflow/kek.json)")
	} else if kek := c.Keys.KEK.Value.Reveal(); !kms.IsKeyURI(strings.TrimSpace(string(kek))) && (!c.Keys.KMSToken.Value.IsZero() || c.Keys.KMSCAFile != "") {
		clear(kek)
		bad("keys.kms_token", "keys.kms_token and keys.kms_ca_file apply only when keys.kek is a KMS key URI (hcvault://...)")
	} else {
		clear(kek)
	}
	if c.WhatsApp.AppSecret.Value.IsZero() {
		bad("whatsapp.app_secret", "required: webhooks cannot be verified without it")
	}
	if c.WhatsApp.VerifyToken.Value.IsZero() {
		bad("whatsapp.verify_token", "required")
	}
	if c.WhatsApp.AccessToken.Value.IsZero() {
		bad("whatsapp.access_token", "required")
	}
	if c.WhatsApp.PhoneNumberID == "" {
		bad("whatsapp.phone_number_id", "required")
	}
	checkURL(&p, "whatsapp.graph_url", c.WhatsApp.GraphURL)
	if !strings.HasPrefix(c.WhatsApp.APIVersion, "v") {
		bad("whatsapp.api_version", "must look like v24.0, got %q", c.WhatsApp.APIVersion)
	}
	if c.Genesys.APIURL == "" && c.Genesys.Region == "" {
		bad("genesys.region", "required unless genesys.api_url and genesys.login_url are set")
	} else {
		checkURL(&p, "genesys.api_url", c.Genesys.APIURL)
		checkURL(&p, "genesys.login_url", c.Genesys.LoginURL)
	}
	if c.Genesys.ClientID == "" {
		bad("genesys.client_id", "required")
	}
	if c.Genesys.ClientSecret.Value.IsZero() {
		bad("genesys.client_secret", "required")
	}
	if c.Genesys.IntegrationID == "" {
		bad("genesys.integration_id", "required")
	}
	// genesys.md §1.7: the signature secret must be longer than 15 characters.
	if n := c.Genesys.WebhookSecret.Value.Len(); n <= 15 {
		bad("genesys.webhook_secret", "must be longer than 15 characters (Genesys requirement), got %d", n)
	}
	if c.Relay.Workers < 1 || c.Relay.Workers > 4096 {
		bad("relay.workers", "must be between 1 and 4096, got %d", c.Relay.Workers)
	}
	if c.Relay.ReorderWindow < 0 || c.Relay.ReorderWindow > time.Minute {
		bad("relay.reorder_window", "must be between 0 and 1m, got %s", c.Relay.ReorderWindow)
	}
	if c.Relay.DedupeRetention < 7*24*time.Hour {
		bad("relay.dedupe_retention", "must be at least 168h: Meta redelivers webhooks for up to 7 days, got %s", c.Relay.DedupeRetention)
	}
	if c.Relay.RetryMax < c.Relay.RetryInitial {
		bad("relay.retry_max", "must not be below relay.retry_initial")
	}
	if c.Sessions.Enabled {
		if len(c.Sessions.Flows) == 0 {
			bad("sessions.flows", "list at least one flow file or directory when sessions are enabled")
		}
		if c.Sessions.PublicURL != "" {
			checkURL(&p, "sessions.public_url", c.Sessions.PublicURL)
		}
		if c.Sessions.StepTimeout <= 0 || c.Sessions.SessionTimeout <= 0 || c.Sessions.LinkUnopenedTTL <= 0 || c.Sessions.LinkOpenedTTL <= 0 {
			bad("sessions", "step_timeout, session_timeout, link_unopened_ttl and link_opened_ttl must be positive")
		}
		if c.Sessions.LinkMaxAttempts < 1 {
			bad("sessions.link_max_attempts", "must be at least 1")
		}
		if n := c.Sessions.LinkKey.Value.Len(); n > 0 && n < 32 {
			bad("sessions.link_key", "must be at least 32 bytes, got %d", n)
		}
	}
	if c.WhatsApp.Flows.Enabled {
		if c.WhatsApp.Flows.PrivateKey.Value.IsZero() {
			bad("whatsapp.flows.private_key", "required when whatsapp.flows.enabled (make one with secureflow whatsapp-flows keygen)")
		}
		if c.WhatsApp.Flows.TokenTTL <= 0 || c.WhatsApp.Flows.MaxAttempts < 1 {
			bad("whatsapp.flows", "token_ttl must be positive and max_attempts at least 1")
		}
	}
	for i, k := range c.API.Keys {
		if k.ID == "" || !strings.HasPrefix(k.Hash, "sha256:") || len(k.Scopes) == 0 {
			bad(fmt.Sprintf("api.keys[%d]", i), "needs an id, a hash \"sha256:<hex>\" and at least one scope")
		}
	}
	if c.Detection.MinScore < 0 || c.Detection.MinScore > 1 {
		bad("detection.min_score", "must be between 0 and 1, got %v", c.Detection.MinScore)
	}
	for dir, m := range map[string]map[string]string{"detection.customer": c.Detection.Customer, "detection.agent": c.Detection.Agent} {
		for entity, action := range m {
			switch strings.ToLower(action) {
			case "tokenize", "mask", "drop", "allow", "block":
			default:
				bad(dir+"."+entity, "must be tokenize, mask, drop, allow or block, got %q", action)
			}
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "must be json or text, got %q", c.Log.Format)
	}
	return p
}

func checkURL(p *[]error, field, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		*p = append(*p, fmt.Errorf("%s: must be an http(s) URL, got %q", field, s))
	}
}

// Secret is a configuration field holding a secret, given as a reference
// (env:NAME, file:PATH) or a literal. After Load, Value holds the resolved
// bytes; Ref keeps the reference for diagnostics (never the literal).
type Secret struct {
	// Ref is the reference as written, or "literal" for literals.
	Ref string
	// Value is the resolved secret.
	Value secret.Value

	raw string
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a secret must be a string such as env:NAME or file:PATH", n.Line)
	}
	s.raw = n.Value
	return nil
}

// String implements fmt.Stringer without revealing the secret.
func (s Secret) String() string {
	if s.Ref == "" {
		return "[REDACTED]"
	}
	return s.Ref
}
