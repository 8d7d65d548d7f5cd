package session

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/secureflow/secureflow/internal/relay"
	"github.com/secureflow/secureflow/internal/store"
)

// CommandPrefix starts an agent command: "/secure take-payment
// amount=49.90 order_id=A-1001", "/secure cancel", "/secure status".
const CommandPrefix = "/secure"

// command is a parsed agent command.
type command struct {
	// Verb is "start", "cancel" or "status".
	Verb   string
	Flow   string
	Inputs map[string]any
	// Err describes a command that cannot be parsed.
	Err string
}

// parseCommand parses an agent message; ok is false when it is not a
// command (it is then an ordinary message).
func parseCommand(text string) (command, bool) {
	text = strings.TrimSpace(text)
	rest, ok := strings.CutPrefix(text, CommandPrefix)
	if !ok || (rest != "" && !unicode.IsSpace(rune(rest[0]))) {
		return command{}, false
	}
	words, err := splitWords(rest)
	if err != "" {
		return command{Err: err}, true
	}
	if len(words) == 0 || words[0] == "" {
		return command{Err: "say which flow: /secure <flow> name=value ..."}, true
	}
	switch words[0] {
	case "cancel", "status":
		return command{Verb: words[0]}, true
	}
	c := command{Verb: "start", Flow: words[0], Inputs: map[string]any{}}
	for _, w := range words[1:] {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return command{Err: "inputs are written name=value"}, true
		}
		c.Inputs[k] = v
	}
	return c, true
}

// splitWords splits on spaces, keeping double-quoted runs together.
func splitWords(s string) ([]string, string) {
	var words []string
	var b strings.Builder
	in, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			in = true
		case unicode.IsSpace(r) && !quoted:
			if in {
				words = append(words, b.String())
				b.Reset()
				in = false
			}
		default:
			b.WriteRune(r)
			in = true
		}
	}
	if quoted {
		return nil, "a quote is not closed"
	}
	if in {
		words = append(words, b.String())
	}
	return words, ""
}

// agentCommand handles an agent's /secure command: never sent to the
// customer, answered with a note the agent sees.
func (e *Engine) agentCommand(ctx context.Context, in relay.Intercepted, c command) (relay.Decision, error) {
	ev := in.Event
	note := func(text string) (relay.Decision, error) {
		return relay.Decision{Handled: true, Effects: []relay.Effect{{Kind: relay.EffectToAgent, Key: "cmd:" + ev.ID, Text: text}}}, nil
	}
	if c.Err != "" {
		return note(say("en", "agent_unknown", c.Err))
	}
	rec, st, err := e.activeState(ctx, ev.Customer)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return relay.Decision{}, err
	}
	active := err == nil
	switch c.Verb {
	case "status":
		if !active {
			return note(say("en", "agent_none"))
		}
		return note(say(st.Locale, "agent_status", st.Flow, st.ID, st.Step))
	case "cancel":
		if !active {
			return note(say("en", "agent_none"))
		}
		return e.apply(ctx, rec, st, in.Now, func(t *turn) error {
			t.toAgent(say(t.st.Locale, "agent_cancel"))
			return t.cancel()
		})
	}
	if active {
		return note(say(st.Locale, "agent_busy", st.ID))
	}
	id := derivedID("agent-command", ev.Source, ev.ID)
	if _, err := e.cfg.Store.Session(ctx, id); err == nil {
		return relay.Decision{Handled: true}, nil // a replay of a command already applied
	} else if !errors.Is(err, store.ErrNotFound) {
		return relay.Decision{}, err
	}
	d := startData{Flow: c.Flow, Inputs: c.Inputs, Peer: ev.PeerConversationID, Principal: "agent", Agent: true}
	dec, err := e.begin(ctx, id, ev.Customer, d, in.Now)
	var inv *InvalidError
	if errors.As(err, &inv) {
		return note(say("en", "agent_unknown", strings.Join(inv.Problems, "; ")))
	}
	return dec, err
}
