package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"net/http"

	"github.com/secureflow/secureflow/internal/config"
	"github.com/secureflow/secureflow/internal/contactcenter/genesys"
	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/relay"
	"github.com/secureflow/secureflow/internal/session"
	"github.com/secureflow/secureflow/internal/vault"
)

// loadFlows loads and lints every flow named by paths (files or
// directories) against the action catalog. A flow with an error stops the
// gateway: invariant 5, flows are checked before they run.
func loadFlows(paths []string, actions map[string]flow.ActionSpec) (map[string]*flow.Flow, error) {
	rel := make([]string, 0, len(paths))
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("flows: %w", err)
		}
		rel = append(rel, strings.TrimPrefix(filepath.ToSlash(abs), "/"))
	}
	flows, ds := flow.LoadPaths(os.DirFS("/"), rel, flow.Options{Actions: actions})
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

// readCatalog reads the action catalog's inputs and outputs for the linter.
func readCatalog(path string) (map[string]flow.ActionSpec, error) {
	if path == "" {
		return nil, nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	cat, ds := flow.ParseCatalog(path, src)
	if ds.HasErrors() {
		return nil, fmt.Errorf("actions:\n%s", ds.String())
	}
	return cat, nil
}

// sessionParts is what the secure-session engine is wired from.
type sessionParts struct {
	flows   map[string]*flow.Flow
	links   session.Links
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
		Links: parts.links, Invoker: parts.invoker, Watcher: parts.watcher, Logger: p.log.With("component", "session"),
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

var _ fs.FS = os.DirFS("/")

// wireSessions attaches the engine for the loaded flows.
func (p *Program) wireSessions(ctx context.Context, cfg config.Config, flows map[string]*flow.Flow, sealer relay.Sealer, gc *genesys.Client, tokens *genesys.TokenSource, hc *http.Client) error {
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
	return p.setupSessions(ctx, cfg, sealer, sessionParts{flows: flows, watcher: n, control: genesysControl{gc}})
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

// Disconnect implements relay.Control (genesys.md §3.2).
func (g genesysControl) Disconnect(ctx context.Context, peer string) error {
	return g.c.Disconnect(ctx, peer)
}
