package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/relay"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/store"
	"github.com/secureflow/secureflow/internal/vault"
)

// Errors callers test with errors.Is.
var (
	// ErrNotFound: no such session (or no active session on the
	// conversation).
	ErrNotFound = errors.New("session: not found")
	// ErrConflict: a secure session is already active on the conversation.
	ErrConflict = errors.New("session: a secure session is already active on this conversation")
	// ErrInvalid: the start request is not valid (unknown flow, missing or
	// mistyped input, wrong mode); see *InvalidError.
	ErrInvalid = errors.New("session: invalid request")
)

// InvalidError lists what is wrong with a start request. Problems name
// inputs, never their values.
type InvalidError struct{ Problems []string }

// Error implements error.
func (e *InvalidError) Error() string { return "session: " + strings.Join(e.Problems, "; ") }

// Unwrap returns ErrInvalid.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Store is what the engine reads; it writes through the relay's commits.
type Store interface {
	store.SessionStore
	Conversation(ctx context.Context, key string) (store.Conversation, error)
}

// Appender appends session signals to the inbox (relay.Inbox).
type Appender interface {
	Accept(ctx context.Context, events []event.Event) error
}

// Vault tokenizes captured values and erases them.
type Vault interface {
	Tokenize(ctx context.Context, kind vault.Kind, value secret.Value, opts vault.Options) (vault.Token, error)
	Delete(ctx context.Context, token, principal, purpose string) error
	Reveal(ctx context.Context, token, principal, purpose string) (secret.Value, error)
	EndSession(ctx context.Context, session, principal string) (int, error)
}

// LinkRequest asks for a secure link to a form for fields.
type LinkRequest struct {
	Session, Step, Locale string
	Fields                []*flow.Field
}

// Links issues and revokes secure links (package securelink).
type Links interface {
	Issue(ctx context.Context, r LinkRequest) (url string, expires time.Time, err error)
	Revoke(ctx context.Context, session string) error
}

// Forms issues and revokes WhatsApp Flow tokens (package waflows): the
// third way to capture, a native form whose data goes encrypted to the
// gateway's data endpoint.
type Forms interface {
	// Issue binds a new flow token to one session step and its fields.
	Issue(ctx context.Context, r LinkRequest) (token string, expires time.Time, err error)
	Revoke(ctx context.Context, session string) error
	// FlowID returns the Meta Flow ID to send for a step of a flow, or ""
	// when none is configured.
	FlowID(flow, step string) string
}

// ActionArg is one input of a data-action call: a public value or a vault
// token the action reveals into its request.
type ActionArg struct {
	Public any    `json:"public,omitempty"`
	Token  string `json:"token,omitempty"`
}

// ActionCall is a data-action call.
type ActionCall struct {
	Inputs         map[string]ActionArg
	IdempotencyKey string
	Principal      string
	Purpose        string
	Session        string
	Timeout        time.Duration
}

// ActionOutput is one output of a data action: a public value, or the
// token of a secret output.
type ActionOutput struct {
	Public any    `json:"public,omitempty"`
	Token  string `json:"token,omitempty"`
}

// Invoker calls data actions (package action).
type Invoker interface {
	Invoke(ctx context.Context, name string, call ActionCall) (map[string]ActionOutput, error)
}

// Watcher learns when agents leave contact-centre conversations (the
// Genesys Notifications API).
type Watcher interface {
	Watch(ctx context.Context, peer string) error
	Unwatch(ctx context.Context, peer string) error
}

// Config configures an Engine.
type Config struct {
	// Flows are the flows sessions may run, by id.
	Flows map[string]*flow.Flow
	Store Store
	// Sealer seals session states (the relay's).
	Sealer relay.Sealer
	// Inbox receives session signals (the relay's inbox).
	Inbox Appender
	Vault Vault
	// Links, Invoker and Watcher are optional: without Links, link capture
	// fails over; without Invoker, every action fails over to on_error;
	// without Watcher, agents leaving are learnt through the API only.
	Links   Links
	Forms   Forms
	Invoker Invoker
	Watcher Watcher
	Logger  *slog.Logger
	Now     func() time.Time
	// HoldAgentMessages holds agent messages sent during a session until it
	// ends; false delivers them at once.
	HoldAgentMessages bool
	// StepTimeout is the inactivity timeout of steps that do not set one
	// (default 10m); SessionTimeout bounds sessions of flows that do not
	// (default 30m); ActionDeadline is how long an action's answer may take
	// to be recorded before the step fails over (default 5m).
	StepTimeout, SessionTimeout, ActionDeadline time.Duration
	// IdentifierRetention keeps captured card numbers and national ids
	// this long (default 30 days); other values live as long as the
	// session, a card security code only until its action answered.
	IdentifierRetention vault.Retention
	// TimerInterval is how often due timers are looked for (default 1s).
	TimerInterval time.Duration
}

// Engine runs secure sessions. It implements relay.Sessions and
// relay.Actions.
type Engine struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	active map[string]bool                    // conversations with an active session
	after  map[string][]func(context.Context) // side effects by session:seq, run once saved

	bg     context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var (
	_ relay.Sessions = (*Engine)(nil)
	_ relay.Actions  = (*Engine)(nil)
)

// New returns an Engine. Call Load before the relay runs.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Inbox == nil || cfg.Vault == nil {
		return nil, errors.New("session: Store, Sealer, Inbox and Vault are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = 10 * time.Minute
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 30 * time.Minute
	}
	if cfg.ActionDeadline <= 0 {
		cfg.ActionDeadline = 5 * time.Minute
	}
	if cfg.IdentifierRetention.Class == "" {
		cfg.IdentifierRetention = vault.RetainDays(30)
	}
	if cfg.TimerInterval <= 0 {
		cfg.TimerInterval = time.Second
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, active: map[string]bool{}, after: map[string][]func(context.Context){}}
	e.bg, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// Flows returns the ids of the flows the engine runs, sorted.
func (e *Engine) Flows() []string { return slices.Sorted(maps.Keys(e.cfg.Flows)) }

// Load reads the active sessions, so the engine knows which conversations
// to intercept, and watches their agents.
func (e *Engine) Load(ctx context.Context) error {
	after := ""
	for {
		recs, err := e.cfg.Store.ActiveSessions(ctx, after, 500)
		if err != nil {
			return fmt.Errorf("session: load active sessions: %w", err)
		}
		if len(recs) == 0 {
			return nil
		}
		for _, r := range recs {
			e.mu.Lock()
			e.active[r.Conversation] = true
			e.mu.Unlock()
			if st, err := e.open(r); err == nil && e.cfg.Watcher != nil && st.Reserved && !st.AgentGone && st.Peer != "" {
				if err := e.cfg.Watcher.Watch(ctx, st.Peer); err != nil {
					e.log.Warn("cannot watch the agent of a secure session", "session", r.ID, "error", err.Error())
				}
			}
		}
		after = recs[len(recs)-1].ID
	}
}

// Run fires due timers until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.TimerInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := e.fireTimers(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("secure session timers failed", "error", err.Error())
		}
	}
}

func (e *Engine) fireTimers(ctx context.Context) error {
	now := e.cfg.Now()
	due, err := e.cfg.Store.DueSessions(ctx, now, 256)
	if err != nil {
		return err
	}
	if len(due) == 0 {
		return nil
	}
	evs := make([]event.Event, 0, len(due))
	for _, r := range due {
		// One signal per transition: the inbox's dedupe key makes a timer
		// fire once however often it is found due.
		evs = append(evs, signalEvent(r.Conversation, now, event.Signal{Type: "timer", Session: r.ID, Seq: r.Seq},
			"timer:"+r.ID+":"+strconv.FormatInt(r.Seq, 10)))
	}
	return e.cfg.Inbox.Accept(ctx, evs)
}

// Close waits for side effects in flight (erasures, link revocations).
func (e *Engine) Close() error {
	e.cancel()
	e.wg.Wait()
	return nil
}

func signalEvent(conversation string, now time.Time, sig event.Signal, id string) event.Event {
	return event.Event{Kind: event.SessionSignal, Source: event.SourceGateway, ID: id, Customer: conversation, Time: now, Signal: &sig}
}

func sessionAD(id string) []byte { return []byte("session\x00" + id) }

func (e *Engine) open(r store.SessionRecord) (*state, error) {
	pt, err := e.cfg.Sealer.Open(r.State, sessionAD(r.ID))
	if err != nil {
		return nil, fmt.Errorf("session %s: open state: %w", r.ID, err)
	}
	return unmarshalState(pt)
}

func (e *Engine) record(st *state) (*store.SessionRecord, error) {
	pt, err := st.marshal()
	if err != nil {
		return nil, fmt.Errorf("session: encode state: %w", err)
	}
	ct, err := e.cfg.Sealer.Seal(pt, sessionAD(st.ID))
	if err != nil {
		return nil, fmt.Errorf("session: seal state: %w", err)
	}
	r := &store.SessionRecord{ID: st.ID, Conversation: st.Conversation, PeerConversationID: st.Peer, Flow: st.Flow,
		Status: st.Status, Seq: st.Seq, State: ct, CreatedAt: st.CreatedAt, EndedAt: st.EndedAt}
	if st.Status == store.SessionActive {
		r.Deadline = st.Expires
		if !st.StepDeadline.IsZero() && st.StepDeadline.Before(r.Deadline) {
			r.Deadline = st.StepDeadline
		}
	}
	return r, nil
}

func (e *Engine) mayBeActive(conversation string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.active[conversation]
}

// Committed implements relay.Sessions.
func (e *Engine) Committed(records []store.SessionRecord) {
	for _, r := range records {
		e.mu.Lock()
		if r.Status == store.SessionActive {
			e.active[r.Conversation] = true
		} else if e.active[r.Conversation] {
			delete(e.active, r.Conversation)
		}
		k := r.ID + ":" + strconv.FormatInt(r.Seq, 10)
		fns := e.after[k]
		delete(e.after, k)
		e.mu.Unlock()
		if len(fns) == 0 {
			continue
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			ctx, cancel := context.WithTimeout(e.bg, time.Minute)
			defer cancel()
			for _, fn := range fns {
				fn(ctx)
			}
		}()
	}
}

// Intercept implements relay.Sessions.
func (e *Engine) Intercept(ctx context.Context, in relay.Intercepted) (relay.Decision, error) {
	ev := in.Event
	switch ev.Kind {
	case event.SessionSignal:
		if ev.Signal == nil {
			return relay.Decision{Handled: true}, nil
		}
		return e.signal(ctx, in)
	case event.AgentMessage:
		if cmd, ok := parseCommand(ev.Text); ok {
			return e.agentCommand(ctx, in, cmd)
		}
		if !e.mayBeActive(ev.Customer) {
			return relay.Decision{}, nil
		}
		rec, st, err := e.activeState(ctx, ev.Customer)
		if errors.Is(err, ErrNotFound) {
			return relay.Decision{}, nil
		}
		if err != nil {
			return relay.Decision{}, err
		}
		if !e.cfg.HoldAgentMessages {
			return relay.Decision{}, nil
		}
		return e.apply(ctx, rec, st, in.Now, func(t *turn) error {
			t.st.Held = append(t.st.Held, held{ID: ev.ID, Text: ev.Text, Buttons: ev.Buttons})
			t.toAgent(say(t.st.Locale, "agent_held"))
			return nil
		})
	case event.CustomerMessage:
		if !e.mayBeActive(ev.Customer) {
			return relay.Decision{}, nil
		}
		rec, st, err := e.activeState(ctx, ev.Customer)
		if errors.Is(err, ErrNotFound) {
			return relay.Decision{}, nil
		}
		if err != nil {
			return relay.Decision{}, err
		}
		return e.apply(ctx, rec, st, in.Now, func(t *turn) error { return t.input(ev) })
	}
	return relay.Decision{}, nil
}

func (e *Engine) activeState(ctx context.Context, conversation string) (store.SessionRecord, *state, error) {
	rec, err := e.cfg.Store.ActiveSession(ctx, conversation)
	if errors.Is(err, store.ErrNotFound) {
		return rec, nil, ErrNotFound
	}
	if err != nil {
		return rec, nil, fmt.Errorf("session: read active session: %w", err)
	}
	st, err := e.open(rec)
	return rec, st, err
}

// apply runs fn as the session's next transition.
func (e *Engine) apply(ctx context.Context, rec store.SessionRecord, st *state, now time.Time, fn func(*turn) error) (relay.Decision, error) {
	fl := e.cfg.Flows[st.Flow]
	if fl == nil {
		// The flow was removed from the configuration: end the session
		// cleanly rather than strand the customer.
		e.log.Error("secure session: its flow is no longer loaded", "session", st.ID, "flow", st.Flow)
		fl = &flow.Flow{ID: st.Flow}
	}
	t := &turn{e: e, ctx: ctx, st: st.clone(), fl: fl, now: now}
	t.st.Seq = rec.Seq + 1
	if fl.Steps == nil {
		if err := t.abort(OutcomeError); err != nil {
			return relay.Decision{}, err
		}
	} else if err := fn(t); err != nil {
		return relay.Decision{}, err
	}
	return e.decide(t)
}

// decide turns a finished turn into the relay's decision.
func (e *Engine) decide(t *turn) (relay.Decision, error) {
	st := t.st
	out, err := e.record(st)
	if err != nil {
		return relay.Decision{}, err
	}
	var after []func(context.Context)
	for _, tok := range st.Erase {
		after = append(after, func(ctx context.Context) {
			if err := e.cfg.Vault.Delete(ctx, tok, "flow:"+st.Flow, "erase-after-action"); err != nil && !errors.Is(err, vault.ErrNotFound) {
				e.log.Error("secure session: erasing a card security code failed", "session", st.ID, "error", err.Error())
			}
		})
	}
	after = append(after, t.after...)
	if st.Status == store.SessionEnded {
		after = append(after, func(ctx context.Context) { e.cleanup(ctx, st) })
	}
	if len(after) > 0 {
		e.mu.Lock()
		e.after[st.ID+":"+strconv.FormatInt(st.Seq, 10)] = after
		e.mu.Unlock()
	}
	e.log.Info("secure session step", "session", st.ID, "flow", st.Flow, "seq", st.Seq, "step", st.Step, "status", st.Status, "outcome", st.Outcome)
	return relay.Decision{Handled: true, Effects: t.effects, Session: out}, nil
}

// cleanup runs once a session has ended: its session-class values are
// erased, its links revoked, its agent no longer watched.
func (e *Engine) cleanup(ctx context.Context, st *state) {
	if n, err := e.cfg.Vault.EndSession(ctx, st.ID, "flow:"+st.Flow); err != nil {
		e.log.Error("secure session: erasing session values failed", "session", st.ID, "error", err.Error())
	} else if n > 0 {
		e.log.Info("secure session values erased", "session", st.ID, "values", n)
	}
	if e.cfg.Links != nil {
		if err := e.cfg.Links.Revoke(ctx, st.ID); err != nil {
			e.log.Error("secure session: revoking links failed", "session", st.ID, "error", err.Error())
		}
	}
	if e.cfg.Forms != nil {
		if err := e.cfg.Forms.Revoke(ctx, st.ID); err != nil {
			e.log.Error("secure session: revoking flow tokens failed", "session", st.ID, "error", err.Error())
		}
	}
	if e.cfg.Watcher != nil && st.Reserved && st.Peer != "" {
		if err := e.cfg.Watcher.Unwatch(ctx, st.Peer); err != nil {
			e.log.Warn("secure session: unwatching the agent failed", "session", st.ID, "error", err.Error())
		}
	}
}

// startData is the data of a "start" signal and of an agent command.
type startData struct {
	Flow      string         `json:"flow"`
	Mode      string         `json:"mode,omitempty"`
	Inputs    map[string]any `json:"inputs,omitempty"`
	Locale    string         `json:"locale,omitempty"`
	Peer      string         `json:"peer,omitempty"`
	Principal string         `json:"principal"`
	// Agent: started by the agent's command, who is then reserved if the
	// flow says so.
	Agent bool `json:"agent,omitempty"`
}

// begin creates a session's first state and runs it to its first wait.
func (e *Engine) begin(ctx context.Context, id, conversation string, d startData, now time.Time) (relay.Decision, error) {
	fl := e.cfg.Flows[d.Flow]
	inputs, err := checkStart(fl, d)
	if err != nil {
		return relay.Decision{}, err
	}
	peer := d.Peer
	if peer == "" {
		if c, err := e.cfg.Store.Conversation(ctx, conversation); err == nil {
			peer = c.PeerConversationID
		}
	}
	timeout := fl.Timeout
	if timeout <= 0 {
		timeout = e.cfg.SessionTimeout
	}
	st := &state{V: stateVersion, ID: id, Flow: fl.ID, Digest: fl.Digest, Mode: string(fl.Mode), Conversation: conversation,
		Peer: peer, Locale: fl.Locale.Match(d.Locale), Principal: d.Principal, Reserved: fl.Mode == flow.ModeAgentReferred && fl.ReserveAgent,
		Status: store.SessionActive, Seq: 1, Step: fl.Start.Step, Expires: now.Add(timeout), Vars: inputs, CreatedAt: now}
	if st.Locale == "" {
		st.Locale = fl.Locale.Default
	}
	t := &turn{e: e, ctx: ctx, st: st, fl: fl, now: now}
	if fl.Mode == flow.ModeAgentReferred {
		note := "agent_started"
		if !st.Reserved {
			note = "agent_released"
		}
		// Said before the reservation check in toAgent would drop it for
		// an unreserved agent: the agent must know either way.
		t.effects = append(t.effects, relay.Effect{Kind: relay.EffectToAgent, Key: t.key("a"), Text: say(st.Locale, note, fl.ID, id)})
		if !st.Reserved {
			// Without reservation the agent is released as the flow
			// starts; the flow ends by transfer or disconnect.
			t.effects = append(t.effects, relay.Effect{Kind: relay.EffectReleaseAgent, Key: t.key("r")})
		}
	}
	if st.Reserved && e.cfg.Watcher != nil && peer != "" {
		t.after = append(t.after, func(ctx context.Context) {
			if err := e.cfg.Watcher.Watch(ctx, peer); err != nil {
				e.log.Warn("cannot watch the agent of a secure session", "session", id, "error", err.Error())
			}
		})
	}
	if err := t.run(); err != nil {
		return relay.Decision{}, err
	}
	return e.decide(t)
}

// checkStart validates a start against its flow and returns the initial
// variables.
func checkStart(fl *flow.Flow, d startData) (map[string]value, error) {
	if fl == nil {
		return nil, &InvalidError{Problems: []string{fmt.Sprintf("unknown flow %q", d.Flow)}}
	}
	var problems []string
	if d.Mode != "" && d.Mode != string(fl.Mode) {
		problems = append(problems, fmt.Sprintf("flow %s runs in mode %s, not %s", fl.ID, fl.Mode, d.Mode))
	}
	if d.Agent && fl.Mode != flow.ModeAgentReferred {
		problems = append(problems, fmt.Sprintf("flow %s is a self-service flow; a bot starts it through the API", fl.ID))
	}
	if !fl.HasChannel(flow.ChannelWhatsApp) {
		problems = append(problems, fmt.Sprintf("flow %s does not run on whatsapp", fl.ID))
	}
	vars := map[string]value{}
	for name := range d.Inputs {
		if fl.Input(name) == nil {
			problems = append(problems, fmt.Sprintf("input %q is not an input of flow %s", name, fl.ID))
		}
	}
	for _, in := range fl.Inputs {
		raw, ok := d.Inputs[in.Name]
		if !ok {
			if in.Required {
				problems = append(problems, fmt.Sprintf("input %q is required", in.Name))
				continue
			}
			v, err := publicValue(in.Default)
			if err != nil {
				v = value{T: "s"}
			}
			vars[in.Name] = v
			continue
		}
		v, err := convertInput(in.Type, raw)
		if err != nil {
			problems = append(problems, fmt.Sprintf("input %q: %v", in.Name, err))
			continue
		}
		vars[in.Name] = v
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, &InvalidError{Problems: problems}
	}
	return vars, nil
}

// convertInput converts a JSON or command-line value to an input's type.
func convertInput(t flow.Type, raw any) (value, error) {
	s, isString := raw.(string)
	switch t {
	case flow.TypeInt:
		switch x := raw.(type) {
		case float64:
			if x == float64(int64(x)) {
				return value{T: "i", I: int64(x)}, nil
			}
		case int64:
			return value{T: "i", I: x}, nil
		case int:
			return value{T: "i", I: int64(x)}, nil
		}
		if isString {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return value{T: "i", I: i}, nil
			}
		}
		return value{}, errors.New("must be an integer")
	case flow.TypeDouble:
		switch x := raw.(type) {
		case float64:
			return value{T: "d", D: x}, nil
		case int64:
			return value{T: "d", D: float64(x)}, nil
		}
		if isString {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return value{T: "d", D: f}, nil
			}
		}
		return value{}, errors.New("must be a number")
	case flow.TypeBool:
		if b, ok := raw.(bool); ok {
			return value{T: "b", B: b}, nil
		}
		if isString {
			if b, err := strconv.ParseBool(s); err == nil {
				return value{T: "b", B: b}, nil
			}
		}
		return value{}, errors.New("must be true or false")
	default:
		switch x := raw.(type) {
		case string:
			if len(x) > 1024 {
				return value{}, errors.New("is longer than 1024 bytes")
			}
			return value{T: "s", S: x}, nil
		case float64:
			return value{T: "s", S: strconv.FormatFloat(x, 'f', -1, 64)}, nil
		case bool:
			return value{T: "s", S: strconv.FormatBool(x)}, nil
		}
		return value{}, errors.New("must be a string")
	}
}

// newID returns a fresh session id.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "ss_" + hex.EncodeToString(b[:])
}

// derivedID returns the session id of a start that must be replayable
// (an agent command, an API call with an idempotency key).
func derivedID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "ss_" + hex.EncodeToString(h.Sum(nil)[:12])
}

// signal applies a session signal.
func (e *Engine) signal(ctx context.Context, in relay.Intercepted) (relay.Decision, error) {
	sig := in.Event.Signal
	if sig.Type == "start" {
		var d startData
		if err := json.Unmarshal(sig.Data, &d); err != nil {
			return relay.Decision{Handled: true}, nil
		}
		return e.startFromAPI(ctx, in, sig.Session, d)
	}
	rec, err := e.cfg.Store.Session(ctx, sig.Session)
	if errors.Is(err, store.ErrNotFound) {
		return relay.Decision{Handled: true}, nil
	}
	if err != nil {
		return relay.Decision{}, fmt.Errorf("session: read session: %w", err)
	}
	if rec.Status != store.SessionActive {
		return relay.Decision{Handled: true}, nil // it ended meanwhile
	}
	st, err := e.open(rec)
	if err != nil {
		return relay.Decision{}, err
	}
	stale := false
	d, err := e.apply(ctx, rec, st, in.Now, func(t *turn) error {
		switch sig.Type {
		case "timer":
			if sig.Seq != rec.Seq {
				stale = true
				return nil
			}
			return t.timeout()
		case "link":
			var v struct {
				Step   string     `json:"step"`
				Values []captured `json:"values"`
			}
			if err := json.Unmarshal(sig.Data, &v); err != nil {
				stale = true
				return nil
			}
			ok, err := t.linkSubmitted(v.Step, v.Values)
			stale = !ok
			return err
		case "link_failed":
			var v struct {
				Step string `json:"step"`
			}
			_ = json.Unmarshal(sig.Data, &v)
			ok, err := t.linkFailed(v.Step)
			stale = !ok
			return err
		case "action":
			var res actionResult
			if err := json.Unmarshal(sig.Data, &res); err != nil {
				res = actionResult{Error: "undecodable answer"}
			}
			ok, err := t.actionAnswered(sig.Seq, res)
			stale = !ok
			return err
		case "agent_gone":
			if t.st.AgentGone {
				stale = true
				return nil
			}
			t.st.AgentGone = true
			return nil
		case "cancel":
			return t.cancel()
		}
		stale = true
		return nil
	})
	if err != nil || stale {
		return relay.Decision{Handled: true}, err
	}
	return d, nil
}

func (e *Engine) startFromAPI(ctx context.Context, in relay.Intercepted, id string, d startData) (relay.Decision, error) {
	conv := in.Event.Customer
	if _, err := e.cfg.Store.Session(ctx, id); err == nil {
		return relay.Decision{Handled: true}, nil // replayed: already started
	} else if !errors.Is(err, store.ErrNotFound) {
		return relay.Decision{}, err
	}
	if cur, err := e.cfg.Store.ActiveSession(ctx, conv); err == nil {
		return e.rejected(id, conv, d, in.Now, "session "+cur.ID+" is active")
	} else if !errors.Is(err, store.ErrNotFound) {
		return relay.Decision{}, err
	}
	dec, err := e.begin(ctx, id, conv, d, in.Now)
	var inv *InvalidError
	if errors.As(err, &inv) {
		return e.rejected(id, conv, d, in.Now, inv.Error())
	}
	return dec, err
}

// rejected records a start that could not begin, so that its caller can
// read why.
func (e *Engine) rejected(id, conv string, d startData, now time.Time, why string) (relay.Decision, error) {
	e.log.Warn("secure session start rejected", "session", id, "flow", d.Flow, "reason", why)
	st := &state{V: stateVersion, ID: id, Flow: d.Flow, Mode: d.Mode, Conversation: conv, Principal: d.Principal,
		Status: store.SessionEnded, Seq: 1, Outcome: OutcomeRejected, Vars: map[string]value{}, CreatedAt: now, EndedAt: now,
		Outputs: map[string]string{"reason": why}}
	if st.Flow == "" {
		st.Flow = "-"
	}
	rec, err := e.record(st)
	if err != nil {
		return relay.Decision{}, err
	}
	return relay.Decision{Handled: true, Session: rec}, nil
}
