package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/store"
)

// StartRequest starts a session through the API.
type StartRequest struct {
	Flow string
	// Mode, when set, must be the flow's.
	Mode string
	// Conversation is the customer's channel id (WhatsApp wa_id).
	Conversation string
	// Peer is the contact centre's conversation id, when the caller knows
	// it.
	Peer   string
	Inputs map[string]any
	Locale string
	// IdempotencyKey makes a retried request start one session.
	IdempotencyKey string
	// Principal is the API key's id.
	Principal string
}

// View is what the API shows of a session: no captured value, only
// masks, tokens and public results.
type View struct {
	ID, Flow, Mode, Conversation string
	Status                       string // "pending", "active" or "ended"
	Step                         string
	Outcome                      string
	AgentReserved, AgentPresent  bool
	Outputs                      map[string]string
	CreatedAt                    time.Time
	EndedAt                      time.Time
}

// Start starts a session: it checks the request, appends a start signal
// to the conversation and waits (up to a few seconds) for the session to
// begin. A start on a conversation with an active session fails with
// ErrConflict.
func (e *Engine) Start(ctx context.Context, r StartRequest) (View, error) {
	if r.Conversation == "" {
		return View{}, &InvalidError{Problems: []string{"conversation is required"}}
	}
	d := startData{Flow: r.Flow, Mode: r.Mode, Inputs: r.Inputs, Locale: r.Locale, Peer: r.Peer, Principal: r.Principal}
	if _, err := checkStart(e.cfg.Flows[r.Flow], d); err != nil {
		return View{}, err
	}
	id := newID()
	if r.IdempotencyKey != "" {
		id = derivedID("api", r.Principal, r.IdempotencyKey)
	}
	if v, err := e.Get(ctx, id); err == nil {
		return v, nil
	}
	if _, err := e.cfg.Store.ActiveSession(ctx, r.Conversation); err == nil {
		return View{}, ErrConflict
	}
	data, err := json.Marshal(d)
	if err != nil {
		return View{}, fmt.Errorf("session: encode start: %w", err)
	}
	now := e.cfg.Now()
	if err := e.cfg.Inbox.Accept(ctx, []event.Event{signalEvent(r.Conversation, now, event.Signal{Type: "start", Session: id, Data: data}, "start:"+id)}); err != nil {
		return View{}, fmt.Errorf("session: append start: %w", err)
	}
	wait := time.NewTicker(20 * time.Millisecond)
	defer wait.Stop()
	deadline := time.After(5 * time.Second)
	for {
		v, err := e.Get(ctx, id)
		if err == nil {
			if v.Outcome == OutcomeRejected {
				return v, ErrConflict
			}
			return v, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return View{}, err
		}
		select {
		case <-ctx.Done():
			return View{}, ctx.Err()
		case <-deadline:
			return View{ID: id, Flow: r.Flow, Conversation: r.Conversation, Status: "pending", CreatedAt: now}, nil
		case <-wait.C:
		}
	}
}

// Get returns a session's view.
func (e *Engine) Get(ctx context.Context, id string) (View, error) {
	rec, err := e.cfg.Store.Session(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return View{}, ErrNotFound
	}
	if err != nil {
		return View{}, fmt.Errorf("session: read: %w", err)
	}
	st, err := e.open(rec)
	if err != nil {
		return View{}, err
	}
	return View{ID: st.ID, Flow: st.Flow, Mode: st.Mode, Conversation: st.Conversation, Status: st.Status, Step: st.Step,
		Outcome: st.Outcome, AgentReserved: st.Reserved, AgentPresent: st.Reserved && !st.AgentGone, Outputs: st.Outputs,
		CreatedAt: st.CreatedAt, EndedAt: st.EndedAt}, nil
}

// AgentLeft reports that the agent of a contact-centre conversation left
// (from the Notifications API or POST /v1/conversations/{id}/events). id
// is the contact centre's conversation id or the customer's channel id.
func (e *Engine) AgentLeft(ctx context.Context, id string) error {
	rec, err := e.cfg.Store.ActiveSessionByPeer(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		rec, err = e.cfg.Store.ActiveSession(ctx, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("session: find session: %w", err)
	}
	return e.cfg.Inbox.Accept(ctx, []event.Event{signalEvent(rec.Conversation, e.cfg.Now(),
		event.Signal{Type: "agent_gone", Session: rec.ID}, "agent_gone:"+rec.ID)})
}

// LinkValue is one value submitted on a secure-link form.
type LinkValue struct {
	Var   string
	Type  flow.InputType
	Value secret.Value
}

// LinkSubmitted stores the values of a secure-link form in the vault and
// hands their tokens and masks to the session. It is idempotent per
// linkID: a second call for the same link changes nothing.
func (e *Engine) LinkSubmitted(ctx context.Context, session, step, linkID string, values []LinkValue) error {
	rec, err := e.cfg.Store.Session(ctx, session)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("session: find session: %w", err)
	}
	st, err := e.open(rec)
	if err != nil {
		return err
	}
	if st.Status != store.SessionActive {
		return ErrNotFound
	}
	out := make([]captured, 0, len(values))
	for _, v := range values {
		ref, err := e.capture(ctx, st, v.Type, string(v.Value.Reveal()))
		if err != nil {
			return err
		}
		out = append(out, captured{Var: v.Var, Type: v.Type, Token: ref.Token, Forms: ref.Forms})
	}
	data, err := json.Marshal(struct {
		Step   string     `json:"step"`
		Values []captured `json:"values"`
	}{step, out})
	if err != nil {
		return fmt.Errorf("session: encode link values: %w", err)
	}
	return e.cfg.Inbox.Accept(ctx, []event.Event{signalEvent(st.Conversation, e.cfg.Now(),
		event.Signal{Type: "link", Session: session, Data: data}, "link:"+linkID)})
}

// LinkFailed tells a session that its secure link failed (too many invalid
// entries): the step takes its failure path.
func (e *Engine) LinkFailed(ctx context.Context, session, step, linkID string) error {
	rec, err := e.cfg.Store.Session(ctx, session)
	if err != nil {
		return fmt.Errorf("session: find session: %w", err)
	}
	data, _ := json.Marshal(struct {
		Step string `json:"step"`
	}{step})
	return e.cfg.Inbox.Accept(ctx, []event.Event{signalEvent(rec.Conversation, e.cfg.Now(),
		event.Signal{Type: "link_failed", Session: session, Data: data}, "link_failed:"+linkID)})
}

// RunAction implements relay.Actions: it calls the data action and
// records its answer as a session signal. A failed call is an answer (the
// step takes on_error); only failing to record it is an error.
func (e *Engine) RunAction(ctx context.Context, payload []byte) error {
	var c actionCall
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("session: decode action call: %w", err)
	}
	res := actionResult{OK: true}
	if e.cfg.Invoker == nil {
		res = actionResult{Error: "no data actions are configured"}
	} else {
		actx := ctx
		if c.Timeout > 0 {
			var cancel context.CancelFunc
			actx, cancel = context.WithTimeout(ctx, c.Timeout)
			defer cancel()
		}
		outs, err := e.cfg.Invoker.Invoke(actx, c.Action, ActionCall{Inputs: c.Inputs, IdempotencyKey: c.Key, Principal: c.Principal,
			Purpose: c.Purpose, Session: c.Session, Timeout: c.Timeout})
		if err != nil {
			res = actionResult{Error: err.Error()}
		} else {
			res.Outputs = outs
		}
	}
	data, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("session: encode action answer: %w", err)
	}
	// Recorded with a fresh context: the call's may have run out.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return e.cfg.Inbox.Accept(rctx, []event.Event{signalEvent(c.Conv, e.cfg.Now(),
		event.Signal{Type: "action", Session: c.Session, Seq: c.Seq, Data: data}, "action:"+c.Key)})
}
