package main

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"net/http"

	"github.com/secureflow/secureflow/internal/action"
	"github.com/secureflow/secureflow/internal/config"
	"github.com/secureflow/secureflow/internal/contactcenter/genesys"
	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/relay"
	"github.com/secureflow/secureflow/internal/securelink"
	"github.com/secureflow/secureflow/internal/session"
	"github.com/secureflow/secureflow/internal/store/sqlite"
	"github.com/secureflow/secureflow/internal/vault"
	"github.com/secureflow/secureflow/internal/waflows"
)

// flowFS returns the file system flow and catalog paths are read from,
// and the paths in it: the embedded examples when o.FlowsFS is set, the
// disk otherwise.
func flowFS(o Options, paths []string) (fs.FS, []string, error) {
	if o.FlowsFS != nil {
		return o.FlowsFS, paths, nil
	}
	rel := make([]string, 0, len(paths))
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, nil, fmt.Errorf("flows: %w", err)
		}
		rel = append(rel, strings.TrimPrefix(filepath.ToSlash(abs), "/"))
	}
	return os.DirFS("/"), rel, nil
}

// loadFlows loads and lints every flow named by paths (files or
// directories) against the action catalog. A flow with an error stops the
// gateway: invariant 5, flows are checked before they run.
func loadFlows(o Options, paths []string, actions map[string]flow.ActionSpec) (map[string]*flow.Flow, error) {
	fsys, rel, err := flowFS(o, paths)
	if err != nil {
		return nil, err
	}
	flows, ds := flow.LoadPaths(fsys, rel, flow.Options{Actions: actions})
	if ds.HasErrors() {
		return nil, fmt.Errorf("flows do not lint clean:\n%s", ds.String())
	}
	out := make(map[string]*flow.Flow, len(flows))
	for _, f := range flows {
		if _, dup := out[f.ID]; dup {
			return nil, fmt.Errorf("flows: two flows have the id %q", f.ID)
		}
		out[f.ID] = f
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("flows: no flow found in %s", strings.Join(paths, ", "))
	}
	return out, nil
}

// loadActions reads the data-action catalog; nil when none is configured.
func loadActions(o Options, cfg config.Sessions) (*action.Catalog, error) {
	if cfg.Actions == "" {
		return nil, nil
	}
	fsys, rel, err := flowFS(o, []string{cfg.Actions})
	if err != nil {
		return nil, err
	}
	src, err := fs.ReadFile(fsys, rel[0])
	if err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	return action.LoadCatalog(cfg.Actions, src, action.LoadOptions{AllowedHosts: cfg.ActionHosts, Resolve: o.ResolveSecret})
}

// actionInvoker adapts the action executor to the session engine.
type actionInvoker struct{ x *action.Executor }

// Invoke implements session.Invoker.
func (a actionInvoker) Invoke(ctx context.Context, name string, c session.ActionCall) (map[string]session.ActionOutput, error) {
	in := make(map[string]action.Arg, len(c.Inputs))
	for k, v := range c.Inputs {
		in[k] = action.Arg{Public: v.Public, Token: v.Token}
	}
	res, err := a.x.Invoke(ctx, name, action.Call{Inputs: in, IdempotencyKey: c.IdempotencyKey, Principal: c.Principal,
		Purpose: c.Purpose, Session: c.Session})
	if err != nil {
		return nil, err
	}
	out := make(map[string]session.ActionOutput, len(res.Outputs))
	for k, v := range res.Outputs {
		out[k] = session.ActionOutput{Public: v.Public, Token: v.Token}
	}
	return out, nil
}

// sessionParts is what the secure-session engine is wired from.
type sessionParts struct {
	flows   map[string]*flow.Flow
	links   session.Links
	forms   session.Forms
	invoker session.Invoker
	watcher session.Watcher
	control relay.Control
}

// setupSessions builds the engine and attaches it to the relay.
func (p *Program) setupSessions(ctx context.Context, cfg config.Config, sealer relay.Sealer, parts sessionParts) error {
	st, ok := p.store.(session.Store)
	if !ok {
		return fmt.Errorf("sessions: store %T keeps no sessions", p.store)
	}
	ret, err := vault.ParseRetention(cfg.Sessions.IdentifierRetention)
	if err != nil {
		return fmt.Errorf("sessions.identifier_retention: %w", err)
	}
	eng, err := session.New(session.Config{
		Flows: parts.flows, Store: st, Sealer: sealer, Inbox: p.relay.Inbox(), Vault: p.vault,
		Links: parts.links, Forms: parts.forms, Invoker: parts.invoker, Watcher: parts.watcher, Logger: p.log.With("component", "session"),
		Now: p.now, HoldAgentMessages: cfg.Sessions.HoldAgentMessages, StepTimeout: cfg.Sessions.StepTimeout,
		SessionTimeout: cfg.Sessions.SessionTimeout, IdentifierRetention: ret,
	})
	if err != nil {
		return err
	}
	if err := eng.Load(ctx); err != nil {
		return err
	}
	p.relay.UseSessions(eng, eng, parts.control)
	p.sessions = eng
	return nil
}

// wireSessions attaches the engine for the loaded flows.
func (p *Program) wireSessions(ctx context.Context, cfg config.Config, o Options, flows map[string]*flow.Flow, cat *action.Catalog, sealer relay.Sealer, kek vault.KEK, gc *genesys.Client, tokens *genesys.TokenSource, hc *http.Client) error {
	var invoker session.Invoker
	if cat != nil {
		ahc := o.ActionClient
		if ahc == nil {
			ahc = &http.Client{Timeout: 60 * time.Second}
		}
		x, err := action.New(action.ExecutorConfig{Catalog: cat, Revealer: p.vault, Tokenizer: p.vault, HTTPClient: ahc,
			Logger: p.log.With("component", "action"), Now: p.now, Metrics: p.registry})
		if err != nil {
			return err
		}
		invoker, p.actions = actionInvoker{x}, x
	}
	// The agent leaving has no webhook (genesys.md §1.6): the gateway
	// subscribes to user.end of conversations with a reserved agent
	// through the Notifications API (§3.3).
	n, err := genesys.NewNotifications(genesys.NotificationsConfig{
		APIURL: cfg.Genesys.APIURL, Tokens: tokens, HTTPClient: hc, Logger: p.log.With("component", "genesys.notifications"),
		OnUserEnd: func(e genesys.UserEnd) { p.agentLeft(e.ConversationID) },
		OnReconnect: func(watched []string) {
			// Events are not replayed after a reconnect: check each
			// watched conversation for an agent that left meanwhile.
			go func() {
				for _, id := range watched {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					conv, err := gc.GetConversation(ctx, id)
					cancel()
					if err == nil {
						if _, ok := conv.Agent(); !ok {
							p.agentLeft(id)
						}
					}
				}
			}()
		},
	})
	if err != nil {
		return err
	}
	p.notifications = n

	// Secure links: one-time forms for values WhatsApp forbids asking for
	// in chat.
	db, ok := p.store.(*sqlite.DB)
	if !ok {
		return fmt.Errorf("sessions: secure links need the sqlite store")
	}
	key := make([]byte, 32)
	if ikm := cfg.Sessions.LinkKey.Value.Reveal(); len(ikm) > 0 {
		// Any configured length ≥ 32 bytes: the form-secret key is derived.
		if key, err = hkdf.Key(sha256.New, ikm, nil, "secureflow securelink csrf v1", 32); err != nil {
			return err
		}
	} else if _, err := rand.Read(key); err != nil {
		return err
	}
	base := cfg.Sessions.PublicURL
	if base == "" {
		base = "http://" + cfg.Server.Addr
	}
	sink := &linkSink{id: securelink.LinkIDFrom}
	svc, err := securelink.New(securelink.Config{BaseURL: base, UnopenedTTL: cfg.Sessions.LinkUnopenedTTL, OpenedTTL: cfg.Sessions.LinkOpenedTTL,
		MaxAttempts: cfg.Sessions.LinkMaxAttempts, CSRFKey: key, Now: p.now, Logger: p.log.With("component", "securelink"), Metrics: p.registry,
		ClientIP: clientIP(cfg.Sessions.ClientIPHeader)},
		db.Links(), sink)
	if err != nil {
		return err
	}
	p.links = svc

	// WhatsApp Flows: a native form whose data comes to /flows/whatsapp
	// encrypted (whatsapp.md §3).
	var forms session.Forms
	formSink := &linkSink{id: waflows.LinkIDFrom}
	if fc := cfg.WhatsApp.Flows; fc.Enabled {
		key, err := waflows.LoadPrivateKey(ctx, fc.PrivateKey.Value.Reveal(), kek)
		if err != nil {
			return fmt.Errorf("whatsapp.flows.private_key: %w", err)
		}
		fsvc, err := waflows.New(waflows.Config{PrivateKey: key,
			// The same Meta app signs the endpoint's requests (§3.7).
			AppSecrets: secretValues(cfg.WhatsApp.AppSecret, cfg.WhatsApp.PreviousAppSecrets),
			TokenTTL:   fc.TokenTTL, MaxAttempts: fc.MaxAttempts, Now: p.now, Logger: p.log.With("component", "waflows"), Metrics: p.registry},
			db.WAFlows(), formSink)
		if err != nil {
			return err
		}
		p.forms = fsvc
		forms = formIssuer{s: fsvc, ids: fc.IDs}
	}
	if err := p.setupSessions(ctx, cfg, sealer, sessionParts{flows: flows, links: linkIssuer{svc}, forms: forms, invoker: invoker, watcher: n, control: genesysControl{gc}}); err != nil {
		return err
	}
	sink.e, formSink.e = p.sessions, p.sessions
	return nil
}

// agentLeft tells the session engine that the agent of a Genesys
// conversation left.
func (p *Program) agentLeft(peer string) {
	if p.sessions == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.sessions.AgentLeft(ctx, peer); err != nil && !errors.Is(err, session.ErrNotFound) {
		p.log.Error("recording that the agent left failed", "conversation", peer, "error", err.Error())
	}
}

// revealPolicy is the vault's reveal policy: each loaded flow may reveal
// the values of its own sessions, for its data actions and conditions; each
// API key with the actions:invoke scope may reveal the tokens it passes to
// an action, for that action. Nobody else may reveal anything.
func revealPolicy(flows map[string]*flow.Flow, keys []config.APIKey) (*vault.Policy, error) {
	var rules []vault.Rule
	for id := range flows {
		rules = append(rules, vault.Rule{Principal: "flow:" + id, Kinds: []vault.Kind{vault.Wildcard}, Purposes: []string{vault.Wildcard}})
	}
	for _, k := range keys {
		for _, s := range k.Scopes {
			if s == "actions:invoke" {
				rules = append(rules, vault.Rule{Principal: "api:" + k.ID, Kinds: []vault.Kind{vault.Wildcard}, Purposes: []string{vault.Wildcard}})
			}
		}
	}
	return vault.NewPolicy(rules...)
}

// genesysControl transfers and disconnects Genesys conversations for
// secure sessions.
type genesysControl struct{ c *genesys.Client }

// TransferToQueue implements relay.Control: the connected agent is
// replaced with the queue (genesys.md §3.1).
func (g genesysControl) TransferToQueue(ctx context.Context, peer, queue string) error {
	conv, err := g.c.GetConversation(ctx, peer)
	if err != nil {
		return err
	}
	agent, ok := conv.Agent()
	if !ok {
		return fmt.Errorf("transfer of conversation %s: %w", peer, errNoAgent)
	}
	return g.c.TransferToQueue(ctx, peer, agent.ID, genesys.QueueRef{Name: queue})
}

// errNoAgent: the conversation has no connected agent to replace.
var errNoAgent = errors.New("no connected agent to replace")

// PostWithAttributes implements relay.Control (genesys.md §1.2: custom
// attributes under channel.metadata.customAttributes).
func (g genesysControl) PostWithAttributes(ctx context.Context, m genesys.InboundMessage, attrs map[string]string) (genesys.Posted, error) {
	m.CustomAttributes = attrs
	return g.c.SendMessage(ctx, m)
}

// ReleaseAgent implements relay.Control: the connected agent's participant
// is disconnected (genesys.md §3.2).
func (g genesysControl) ReleaseAgent(ctx context.Context, peer string) error {
	conv, err := g.c.GetConversation(ctx, peer)
	if err != nil {
		return err
	}
	agent, ok := conv.Agent()
	if !ok {
		return nil
	}
	return g.c.DisconnectParticipant(ctx, peer, agent.ID)
}

// Disconnect implements relay.Control (genesys.md §3.2).
func (g genesysControl) Disconnect(ctx context.Context, peer string) error {
	return g.c.Disconnect(ctx, peer)
}

// linkSink hands secure-link and WhatsApp Flow submissions to the session
// engine; id reads the link's or token's id from the context of Failed.
type linkSink struct {
	e  *session.Engine
	id func(context.Context) string
}

// Submitted implements securelink.Sink.
func (l *linkSink) Submitted(ctx context.Context, sub securelink.Submission) error {
	vals := make([]session.LinkValue, 0, len(sub.Values))
	for _, v := range sub.Values {
		vals = append(vals, session.LinkValue{Var: v.Var, Type: v.Type, Value: v.Secret})
	}
	return l.e.LinkSubmitted(ctx, sub.Session, sub.Step, sub.LinkID, vals)
}

// Failed implements securelink.Sink.
func (l *linkSink) Failed(ctx context.Context, session, step, reason string) error {
	return l.e.LinkFailed(ctx, session, step, l.id(ctx))
}

// linkIssuer issues secure links for the session engine.
type linkIssuer struct{ s *securelink.Service }

// Issue implements session.Links.
func (l linkIssuer) Issue(ctx context.Context, r session.LinkRequest) (string, time.Time, error) {
	return l.s.Issue(ctx, securelink.IssueRequest{Session: r.Session, Step: r.Step, Locale: r.Locale, Fields: r.Fields})
}

// Revoke implements session.Links.
func (l linkIssuer) Revoke(ctx context.Context, session string) error {
	return l.s.Revoke(ctx, session)
}

// clientIP returns how secure links find the client's address: from a
// trusted proxy's header when one is configured, else the connection.
func clientIP(header string) func(*http.Request) string {
	return func(r *http.Request) string {
		if header != "" {
			first, _, _ := strings.Cut(r.Header.Get(header), ",")
			if ip := strings.TrimSpace(first); ip != "" {
				return ip
			}
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
}

// sweepLinks deletes secure links and WhatsApp Flow tokens expired for a
// day, every hour, until ctx ends.
func sweepLinks(ctx context.Context, db *sqlite.DB, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		before := now().Add(-24 * time.Hour)
		if n, err := db.Links().DeleteExpiredLinks(ctx, before); err != nil && ctx.Err() == nil {
			log.Error("deleting expired secure links failed", "error", err.Error())
		} else if n > 0 {
			log.Info("expired secure links deleted", "links", n)
		}
		if n, err := db.WAFlows().DeleteExpiredFlowTokens(ctx, before); err != nil && ctx.Err() == nil {
			log.Error("deleting expired flow tokens failed", "error", err.Error())
		} else if n > 0 {
			log.Info("expired flow tokens deleted", "tokens", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// formIssuer issues WhatsApp Flow tokens for the session engine.
type formIssuer struct {
	s   *waflows.Service
	ids map[string]string
}

// Issue implements session.Forms.
func (f formIssuer) Issue(ctx context.Context, r session.LinkRequest) (string, time.Time, error) {
	return f.s.Issue(ctx, waflows.IssueRequest{Session: r.Session, Step: r.Step, Locale: r.Locale, Fields: r.Fields})
}

// Revoke implements session.Forms.
func (f formIssuer) Revoke(ctx context.Context, session string) error {
	return f.s.Revoke(ctx, session)
}

// FlowID implements session.Forms: whatsapp.flows.ids by "<flow>/<step>",
// then by "<flow>".
func (f formIssuer) FlowID(flowID, step string) string {
	if id, ok := f.ids[flowID+"/"+step]; ok {
		return id
	}
	return f.ids[flowID]
}
