package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/relay"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/store"
	"github.com/secureflow/secureflow/internal/vault"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in     string
		ok     bool
		verb   string
		flow   string
		inputs map[string]any
		err    bool
	}{
		{in: "hello", ok: false},
		{in: "/securefoo x", ok: false},
		{in: "/secure", ok: true, err: true},
		{in: "  /secure status ", ok: true, verb: "status"},
		{in: "/secure cancel", ok: true, verb: "cancel"},
		{in: "/secure take-payment amount=49.90 order_id=A-1", ok: true, verb: "start", flow: "take-payment",
			inputs: map[string]any{"amount": "49.90", "order_id": "A-1"}},
		{in: `/secure pay note="two words" x=`, ok: true, verb: "start", flow: "pay", inputs: map[string]any{"note": "two words", "x": ""}},
		{in: `/secure pay note="open`, ok: true, err: true},
		{in: "/secure pay amount", ok: true, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, ok := parseCommand(tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if (c.Err != "") != tt.err {
				t.Fatalf("Err = %q, want error %v", c.Err, tt.err)
			}
			if tt.err {
				return
			}
			if c.Verb != tt.verb || c.Flow != tt.flow || (tt.inputs != nil && !reflect.DeepEqual(c.Inputs, tt.inputs)) {
				t.Fatalf("got %+v", c)
			}
		})
	}
}

const testFlow = `
id: t
mode: agent_referred
reserve_agent: true
channels: [whatsapp]
locale: {default: en, supported: [en]}
inputs:
  amount: {type: double, required: true}
  count: {type: int, default: 2}
  note: {type: string}
  ok: {type: bool}
on_agent_gone: gone
steps:
  - id: ask
    type: collect
    capture: chat
    fields:
      - var: code
        type: otp
        length: 6
    prompt: "Code please ({{ amount }})"
    progress: "Code {{ code | mask }} received"
    next: same
    on_failure: failed
  - id: same
    type: switch
    cases:
      - when: code == "123456"
        next: done
    default: done
  - id: done
    type: return_to_agent
    summary: "Got {{ code | mask }}"
    outcome: ok
  - id: failed
    type: return_to_agent
    summary: "No code"
    outcome: failed
  - id: gone
    type: transfer
    queue: Q
    outcome: gone
`

func loadTestFlow(t *testing.T) *flow.Flow {
	t.Helper()
	f, err := flow.Load("t.yaml", []byte(testFlow), flow.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCheckStart(t *testing.T) {
	fl := loadTestFlow(t)
	tests := []struct {
		name    string
		d       startData
		problem string
		want    map[string]value
	}{
		{"typed", startData{Flow: "t", Inputs: map[string]any{"amount": "49.90", "count": "3", "ok": "true"}}, "",
			map[string]value{"amount": {T: "d", D: 49.9}, "count": {T: "i", I: 3}, "ok": {T: "b", B: true}, "note": {T: "s"}}},
		{"json numbers", startData{Flow: "t", Inputs: map[string]any{"amount": float64(10), "count": float64(4)}}, "",
			map[string]value{"amount": {T: "d", D: 10}, "count": {T: "i", I: 4}, "ok": {T: "b"}, "note": {T: "s"}}},
		{"missing", startData{Flow: "t"}, `input "amount" is required`, nil},
		{"unknown input", startData{Flow: "t", Inputs: map[string]any{"amount": "1", "x": "y"}}, `input "x" is not an input`, nil},
		{"bad int", startData{Flow: "t", Inputs: map[string]any{"amount": "1", "count": "1.5"}}, `input "count": must be an integer`, nil},
		{"wrong mode", startData{Flow: "t", Mode: "self_service", Inputs: map[string]any{"amount": "1"}}, "runs in mode agent_referred", nil},
		{"unknown flow", startData{Flow: "nope"}, `unknown flow "nope"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f *flow.Flow
			if tt.d.Flow == "t" {
				f = fl
			}
			vars, err := checkStart(f, tt.d)
			if tt.problem != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("err = %v, want %q", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(vars, tt.want) {
				t.Fatalf("vars = %+v, want %+v", vars, tt.want)
			}
		})
	}
}

func TestSecretRefShowsOnlyMasks(t *testing.T) {
	ref := &secretRef{Type: flow.InputCardNumber, Token: "4000000000001234", Forms: flow.Seal(flow.InputCardNumber, "4111111111111111").Forms()}
	if got, err := ref.Masked(flow.FilterLast4); err != nil || got != "1111" {
		t.Fatalf("last4 = %q, %v", got, err)
	}
	if got, _ := ref.Masked(flow.FilterToken); got != "4000000000001234" {
		t.Fatalf("token = %q", got)
	}
	otp := &secretRef{Type: flow.InputOTP, Token: "tok"}
	if _, err := otp.Masked(flow.FilterLast4); !errors.Is(err, flow.ErrFilterNotAllowed) {
		t.Fatalf("last4 of an otp: %v", err)
	}
	if s := fmt.Sprint(ref); strings.Contains(s, "1111") {
		t.Fatalf("a secretRef prints %q", s)
	}
}

// fakes

type memStore struct {
	mu   sync.Mutex
	recs map[string]store.SessionRecord
}

func (m *memStore) save(r store.SessionRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.recs[r.ID]; ok && cur.Seq >= r.Seq {
		return
	}
	m.recs[r.ID] = r
}

func (m *memStore) Session(_ context.Context, id string) (store.SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[id]
	if !ok {
		return r, store.ErrNotFound
	}
	return r, nil
}

func (m *memStore) find(f func(store.SessionRecord) bool) (store.SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.recs {
		if f(r) {
			return r, nil
		}
	}
	return store.SessionRecord{}, store.ErrNotFound
}

func (m *memStore) ActiveSession(_ context.Context, conv string) (store.SessionRecord, error) {
	return m.find(func(r store.SessionRecord) bool { return r.Conversation == conv && r.Status == store.SessionActive })
}

func (m *memStore) ActiveSessionByPeer(_ context.Context, peer string) (store.SessionRecord, error) {
	return m.find(func(r store.SessionRecord) bool {
		return peer != "" && r.PeerConversationID == peer && r.Status == store.SessionActive
	})
}

func (m *memStore) ActiveSessions(context.Context, string, int) ([]store.SessionRecord, error) {
	return nil, nil
}
func (m *memStore) DueSessions(context.Context, time.Time, int) ([]store.SessionRecord, error) {
	return nil, nil
}
func (m *memStore) Conversation(context.Context, string) (store.Conversation, error) {
	return store.Conversation{PeerConversationID: "peer-1"}, nil
}

type plainSealer struct{}

func (plainSealer) Seal(pt, ad []byte) ([]byte, error) {
	return append(append([]byte{}, ad...), pt...), nil
}
func (plainSealer) Open(ct, ad []byte) ([]byte, error) {
	if !strings.HasPrefix(string(ct), string(ad)) {
		return nil, errors.New("wrong associated data")
	}
	return ct[len(ad):], nil
}

type nopInbox struct{}

func (nopInbox) Accept(context.Context, []event.Event) error { return nil }

type memVault struct {
	mu     sync.Mutex
	n      int
	values map[string]string
}

func (v *memVault) Tokenize(_ context.Context, _ vault.Kind, val secret.Value, _ vault.Options) (vault.Token, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.n++
	id := fmt.Sprintf("tok_%d", v.n)
	v.values[id] = string(val.Reveal())
	return vault.Token{ID: id}, nil
}

func (v *memVault) Delete(context.Context, string, string, string) error { return nil }
func (v *memVault) Reveal(_ context.Context, tok, _, _ string) (secret.Value, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return secret.FromString(v.values[tok]), nil
}
func (v *memVault) EndSession(context.Context, string, string) (int, error) { return 0, nil }

// TestReplayedEventYieldsTheSameEffects: an event applied again (after a
// commit that failed, or a crash before it) produces the same effects
// under the same keys and the same transition count, so the outbox
// ignores the repeat and the store refuses to roll the session back.
func TestReplayedEventYieldsTheSameEffects(t *testing.T) {
	st := &memStore{recs: map[string]store.SessionRecord{}}
	v := &memVault{values: map[string]string{}}
	e, err := New(Config{Flows: map[string]*flow.Flow{"t": loadTestFlow(t)}, Store: st, Sealer: plainSealer{}, Inbox: nopInbox{}, Vault: v,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})), HoldAgentMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cmd := relay.Intercepted{InboxID: 1, Now: now, Event: event.Event{Kind: event.AgentMessage, Source: "genesys", ID: "m1", Customer: "c1",
		Text: "/secure t amount=9.5"}}
	apply := func(in relay.Intercepted) relay.Decision {
		t.Helper()
		d, err := e.Intercept(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Handled || d.Session == nil {
			t.Fatalf("not handled: %+v", d)
		}
		return d
	}
	first := apply(cmd)
	again := apply(cmd) // the commit of the first failed: nothing was saved
	if !reflect.DeepEqual(keys(first.Effects), keys(again.Effects)) || first.Session.Seq != again.Session.Seq || first.Session.ID != again.Session.ID {
		t.Fatalf("replay differs:\n%v seq %d\n%v seq %d", keys(first.Effects), first.Session.Seq, keys(again.Effects), again.Session.Seq)
	}
	st.save(*first.Session)
	e.Committed([]store.SessionRecord{*first.Session})

	reply := relay.Intercepted{InboxID: 2, Now: now.Add(time.Second), Event: event.Event{Kind: event.CustomerMessage, Source: "whatsapp", ID: "w1", Customer: "c1", Text: "123456"}}
	d1 := apply(reply)
	d2 := apply(reply)
	if !reflect.DeepEqual(keys(d1.Effects), keys(d2.Effects)) || d1.Session.Seq != d2.Session.Seq {
		t.Fatalf("replayed reply differs: %v / %v", keys(d1.Effects), keys(d2.Effects))
	}
	if d1.Session.Status != store.SessionEnded {
		t.Fatalf("status = %s, want ended (the condition read the revealed code)", d1.Session.Status)
	}
	st.save(*d1.Session)
	st.save(*first.Session) // a stale save is refused
	if got, _ := st.Session(ctx, d1.Session.ID); got.Seq != d1.Session.Seq {
		t.Fatalf("rolled back to seq %d", got.Seq)
	}
	for _, ef := range d1.Effects {
		if strings.Contains(ef.Text, "123456") {
			t.Fatalf("the code reached an effect: %q", ef.Text)
		}
	}
	sum := ""
	for _, ef := range d1.Effects {
		if ef.Kind == relay.EffectToAgent {
			sum += ef.Text
		}
	}
	if !strings.Contains(sum, "Got [") {
		t.Fatalf("agent summary = %q", sum)
	}
}

func keys(effs []relay.Effect) []string {
	out := make([]string, len(effs))
	for i, e := range effs {
		out[i] = e.Key
	}
	return out
}
