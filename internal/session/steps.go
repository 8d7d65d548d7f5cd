package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/relay"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/store"
	"github.com/secureflow/secureflow/internal/vault"
)

// maxStepsPerTurn bounds the steps one event may run through. The linter
// rejects loops without input, so a flow that reaches it is defective.
const maxStepsPerTurn = 256

// Outcomes the engine sets by itself.
const (
	OutcomeCancelled = "cancelled"
	OutcomeTimeout   = "timeout"
	OutcomeError     = "error"
	OutcomeAgentGone = "agent_gone"
	OutcomeRejected  = "rejected"
)

// Button ids of a confirm step.
const (
	buttonYes = "sf_yes"
	buttonNo  = "sf_no"
)

// turn applies one event to one session: it advances the state and
// collects the effects, which the relay enqueues with the state.
type turn struct {
	e       *Engine
	ctx     context.Context
	st      *state
	fl      *flow.Flow
	now     time.Time
	effects []relay.Effect
	n       int
	after   []func(context.Context) // side effects once the state is saved
}

func (t *turn) key(tag string) string {
	t.n++
	return "ss:" + t.st.ID + ":" + strconv.FormatInt(t.st.Seq, 10) + ":" + strconv.Itoa(t.n) + ":" + tag
}

func (t *turn) toCustomer(text string, buttons ...event.Button) {
	if text == "" {
		return
	}
	t.effects = append(t.effects, relay.Effect{Kind: relay.EffectToCustomer, Key: t.key("c"), Text: text, Buttons: buttons})
}

// toAgent posts a note the reserved agent sees; nothing when no agent
// is reserved and present.
func (t *turn) toAgent(text string) {
	if text == "" || !t.agentPresent() {
		return
	}
	t.effects = append(t.effects, relay.Effect{Kind: relay.EffectToAgent, Key: t.key("a"), Text: text})
}

// agentPresent: the referring agent is reserved and has not left.
func (t *turn) agentPresent() bool {
	return t.st.Mode == string(flow.ModeAgentReferred) && t.st.Reserved && !t.st.AgentGone
}

func (t *turn) scope() scope { return scope(t.st.Vars) }

// render renders a localized text; a failure (a defect the linter should
// have caught) is logged by step and yields "".
func (t *turn) render(tx flow.Text) string {
	if tx.IsZero() {
		return ""
	}
	tpl := tx.For(t.st.Locale)
	if tpl == nil {
		tpl = tx.For(t.fl.Locale.Default)
	}
	if tpl == nil {
		return ""
	}
	s, err := tpl.Render(t.scope())
	if err != nil {
		t.e.log.Error("secure session: text cannot be rendered", "session", t.st.ID, "flow", t.st.Flow, "step", t.st.Step, "error", err.Error())
		return ""
	}
	return s
}

func (t *turn) progress(s *flow.Step) {
	if p := t.render(s.Progress); p != "" {
		t.toAgent(say(t.st.Locale, "agent_progress", p))
	}
	for _, b := range s.Log {
		if v, err := b.Value.Render(t.scope()); err == nil {
			t.e.log.Info("secure session step", "session", t.st.ID, "flow", t.st.Flow, "step", s.ID, b.Name, v)
		}
	}
}

// goTo enters step id; run must follow.
func (t *turn) goTo(target flow.Target) {
	t.st.Step = target.Step
	t.st.Attempts = 0
	t.st.StepDeadline = time.Time{}
	t.st.WaitingAction = 0
}

// run executes steps from the current one until one waits for the
// customer, a form or an action, or the session ends.
func (t *turn) run() error {
	for range maxStepsPerTurn {
		if t.st.Status != store.SessionActive {
			return nil
		}
		s := t.fl.Step(t.st.Step)
		if s == nil {
			t.e.log.Error("secure session: step not in flow", "session", t.st.ID, "flow", t.st.Flow, "step", t.st.Step)
			return t.abort(OutcomeError)
		}
		switch b := s.Body.(type) {
		case *flow.Say:
			t.toCustomer(t.render(b.Text))
			t.progress(s)
			t.goTo(b.Next)
		case *flow.Set:
			exprs := make([]*flow.Expr, 0, len(b.Assign))
			for _, a := range b.Assign {
				exprs = append(exprs, a.Value)
			}
			in, revealed, err := t.exprVars(exprs...)
			if err != nil {
				if permanent(err) {
					t.e.log.Error("secure session: a condition's secret cannot be read", "session", t.st.ID, "step", s.ID, "error", err.Error())
					return t.abort(OutcomeError)
				}
				return err
			}
			vals, err := b.Apply(in)
			if err != nil {
				t.e.log.Error("secure session: set failed", "session", t.st.ID, "flow", t.st.Flow, "step", s.ID, "error", err.Error())
				return t.abort(OutcomeError)
			}
			for _, a := range b.Assign {
				v := vals[a.Var]
				if readsAny(a.Value, revealed) {
					// Computed from a secret: a secret itself (the taint
					// rule), so it goes to the vault like a captured value.
					ref, err := t.e.capture(t.ctx, t.st, flow.InputSecret, fmt.Sprint(v))
					if err != nil {
						return err
					}
					t.st.Vars[a.Var] = value{T: "x", Sec: ref}
					continue
				}
				pv, err := publicValue(v)
				if err != nil {
					return t.abort(OutcomeError)
				}
				t.st.Vars[a.Var] = pv
			}
			t.progress(s)
			t.goTo(b.Next)
		case *flow.Switch:
			exprs := make([]*flow.Expr, 0, len(b.Cases))
			for _, c := range b.Cases {
				exprs = append(exprs, c.When)
			}
			in, _, err := t.exprVars(exprs...)
			if err != nil {
				if permanent(err) {
					t.e.log.Error("secure session: a condition's secret cannot be read", "session", t.st.ID, "step", s.ID, "error", err.Error())
					return t.abort(OutcomeError)
				}
				return err
			}
			next, err := b.Choose(in)
			if err != nil {
				t.e.log.Error("secure session: switch failed", "session", t.st.ID, "flow", t.st.Flow, "step", s.ID, "error", err.Error())
				return t.abort(OutcomeError)
			}
			t.goTo(next)
		case *flow.Collect:
			return t.enterCollect(s, b)
		case *flow.Confirm:
			t.enterConfirm(b)
			return nil
		case *flow.Action:
			return t.enterAction(s, b)
		default:
			return t.end(s)
		}
	}
	t.e.log.Error("secure session: too many steps without input", "session", t.st.ID, "flow", t.st.Flow)
	return t.abort(OutcomeError)
}

func (t *turn) stepTimeout(d time.Duration) time.Time {
	if d <= 0 {
		d = t.e.cfg.StepTimeout
	}
	return t.now.Add(d)
}

func (t *turn) enterCollect(s *flow.Step, b *flow.Collect) error {
	t.st.StepDeadline = t.stepTimeout(b.Timeout)
	switch b.Capture {
	case flow.CaptureLink:
		if t.e.cfg.Links == nil {
			t.e.log.Error("secure session: secure links are not configured", "session", t.st.ID, "step", s.ID)
			return t.fail(b.OnFailure)
		}
		url, _, err := t.e.cfg.Links.Issue(t.ctx, LinkRequest{Session: t.st.ID, Step: s.ID, Locale: t.st.Locale, Fields: b.Fields})
		if err != nil {
			return fmt.Errorf("session: issue secure link: %w", err)
		}
		t.toCustomer(t.render(b.Prompt) + "\n\n" + say(t.st.Locale, "link_prompt", url))
	case flow.CaptureChat:
		t.toCustomer(t.render(b.Prompt))
	case flow.CaptureWhatsAppFlow:
		id := ""
		if t.e.cfg.Forms != nil {
			id = t.e.cfg.Forms.FlowID(t.st.Flow, s.ID)
		}
		if id == "" {
			// No data endpoint, or no Meta Flow published for this step:
			// the step fails over to its failure path rather than hang.
			t.e.log.Error("secure session: no WhatsApp Flow configured for the step", "session", t.st.ID, "flow", t.st.Flow, "step", s.ID)
			t.toCustomer(say(t.st.Locale, "unavailable"))
			return t.fail(b.OnFailure)
		}
		tok, _, err := t.e.cfg.Forms.Issue(t.ctx, LinkRequest{Session: t.st.ID, Step: s.ID, Locale: t.st.Locale, Fields: b.Fields})
		if err != nil {
			return fmt.Errorf("session: issue flow token: %w", err)
		}
		t.effects = append(t.effects, relay.Effect{Kind: relay.EffectToCustomer, Key: t.key("f"), Text: t.render(b.Prompt),
			Form: &relay.FormInvite{FlowID: id, Token: tok, CTA: say(t.st.Locale, "form_cta")}})
	default:
		t.e.log.Error("secure session: capture mode not available", "session", t.st.ID, "step", s.ID, "capture", string(b.Capture))
		t.toCustomer(say(t.st.Locale, "unavailable"))
		return t.fail(b.OnFailure)
	}
	return nil
}

// offChat reports whether a collect step captures outside the chat (a
// secure link or a WhatsApp Flow), whose values arrive as a "link" signal.
func offChat(b *flow.Collect) bool {
	return b.Capture == flow.CaptureLink || b.Capture == flow.CaptureWhatsAppFlow
}

func (t *turn) enterConfirm(b *flow.Confirm) {
	t.st.StepDeadline = t.stepTimeout(b.Timeout)
	t.toCustomer(t.render(b.Text), t.confirmButtons(b)...)
}

func (t *turn) confirmButtons(b *flow.Confirm) []event.Button {
	yes, no := t.render(b.YesLabel), t.render(b.NoLabel)
	if yes == "" {
		yes = say(t.st.Locale, "yes")
	}
	if no == "" {
		no = say(t.st.Locale, "no")
	}
	return []event.Button{{ID: buttonYes, Title: yes}, {ID: buttonNo, Title: no}}
}

// actionCall is the payload of an action effect.
type actionCall struct {
	Session   string               `json:"session"`
	Conv      string               `json:"conversation"`
	Seq       int64                `json:"seq"`
	Step      string               `json:"step"`
	Action    string               `json:"action"`
	Inputs    map[string]ActionArg `json:"inputs"`
	Key       string               `json:"key"`
	Principal string               `json:"principal"`
	Purpose   string               `json:"purpose"`
	Timeout   time.Duration        `json:"timeout,omitempty"`
}

func (t *turn) enterAction(s *flow.Step, b *flow.Action) error {
	args := make(map[string]ActionArg, len(b.With))
	for _, w := range b.With {
		v, err := w.Value.Value(t.scope())
		if err != nil {
			t.e.log.Error("secure session: action input cannot be built", "session", t.st.ID, "step", s.ID, "input", w.Name, "error", err.Error())
			return t.fail(b.OnError)
		}
		if ref, ok := v.(*secretRef); ok {
			args[w.Name] = ActionArg{Token: ref.Token}
			continue
		}
		args[w.Name] = ActionArg{Public: v}
	}
	key := "act:" + t.st.ID + ":" + s.ID + ":" + strconv.FormatInt(t.st.Seq, 10)
	call := actionCall{Session: t.st.ID, Conv: t.st.Conversation, Seq: t.st.Seq, Step: s.ID, Action: b.Name, Inputs: args, Key: key,
		Principal: "flow:" + t.st.Flow, Purpose: t.st.Flow + "/" + s.ID, Timeout: b.Timeout}
	payload, err := json.Marshal(call)
	if err != nil {
		return fmt.Errorf("session: encode action call: %w", err)
	}
	t.effects = append(t.effects, relay.Effect{Kind: relay.EffectAction, Key: key, Payload: payload})
	t.st.WaitingAction = t.st.Seq
	// A safety net: if no answer is recorded in time (the runner cannot
	// record it), the step fails over to on_error instead of hanging.
	t.st.StepDeadline = t.now.Add(t.e.cfg.ActionDeadline)
	return nil
}

// fail takes a failure transition, or aborts when the flow has none.
func (t *turn) fail(to flow.Target) error {
	if to.IsZero() {
		return t.abort(OutcomeError)
	}
	t.goTo(to)
	return t.run()
}

// abort ends the session without a flow step: back to a present agent,
// otherwise a disconnect.
func (t *turn) abort(outcome string) error {
	if t.agentPresent() {
		t.toAgent(say(t.st.Locale, "agent_returned", outcome, "the secure flow stopped at step "+t.st.Step+"."))
	} else {
		t.effects = append(t.effects, relay.Effect{Kind: relay.EffectDisconnect, Key: t.key("d")})
	}
	t.finish(outcome, nil)
	return nil
}

// cancel ends the session at the customer's or agent's request.
func (t *turn) cancel() error {
	if !t.fl.OnCancel.IsZero() {
		t.goTo(t.fl.OnCancel)
		return t.run()
	}
	t.toCustomer(say(t.st.Locale, "cancelled"))
	return t.abort(OutcomeCancelled)
}

// timeout handles a fired timer.
func (t *turn) timeout() error {
	if !t.now.Before(t.st.Expires) {
		if !t.fl.OnTimeout.IsZero() && t.st.Step != t.fl.OnTimeout.Step {
			t.goTo(t.fl.OnTimeout)
			return t.run()
		}
		return t.abort(OutcomeTimeout)
	}
	s := t.fl.Step(t.st.Step)
	if s == nil {
		return t.abort(OutcomeError)
	}
	switch b := s.Body.(type) {
	case *flow.Collect:
		to := b.OnTimeout
		if to.IsZero() {
			to = b.OnFailure
		}
		return t.fail(to)
	case *flow.Confirm:
		to := b.OnTimeout
		if to.IsZero() {
			to = b.No
		}
		t.goTo(to)
		return t.run()
	case *flow.Action:
		t.e.log.Error("secure session: data action answer not recorded in time", "session", t.st.ID, "step", s.ID, "action", b.Name)
		return t.fail(b.OnError)
	}
	return nil
}

// end runs an end step.
func (t *turn) end(s *flow.Step) error {
	switch b := s.Body.(type) {
	case *flow.ReturnToAgent:
		if !t.agentPresent() {
			// The agent left (or was never reserved): the flow's
			// fallback, a transfer, instead.
			if fb := t.fl.OnAgentGone; !fb.IsZero() && fb.Step != s.ID {
				if k := t.fl.Step(fb.Step); k != nil && k.Kind() != flow.KindReturnToAgent {
					t.goTo(fb)
					return t.run()
				}
			}
			t.toCustomer(t.render(b.Message))
			t.effects = append(t.effects, relay.Effect{Kind: relay.EffectDisconnect, Key: t.key("d")})
			t.finish(OutcomeAgentGone, b.Outputs)
			return nil
		}
		t.toCustomer(t.render(b.Message))
		t.toAgent(say(t.st.Locale, "agent_returned", b.Outcome, t.render(b.Summary)))
		t.finish(b.Outcome, b.Outputs)
	case *flow.Transfer:
		t.toCustomer(t.render(b.Message))
		t.finish(b.Outcome, b.Outputs)
		attrs := map[string]string{}
		for _, a := range b.Attributes {
			if v, err := a.Value.Render(t.scope()); err == nil {
				attrs[a.Name] = v
			}
		}
		attrs["secureflow.session"] = t.st.ID
		attrs["secureflow.flow"] = t.st.Flow
		attrs["secureflow.outcome"] = t.st.Outcome
		for k, v := range t.st.Outputs {
			attrs["secureflow.output."+k] = v
		}
		dest := b.Queue
		if dest == "" {
			dest = b.Destination
		}
		if dest != "" {
			attrs["secureflow.queue"] = dest
		}
		// A reserved agent still present is replaced with the queue;
		// otherwise (self-service, released or departed agent) the inbound
		// message flow routes on the attributes.
		replace := t.agentPresent() && b.Queue != ""
		t.effects = append(t.effects, relay.Effect{Kind: relay.EffectTransfer, Key: t.key("t"), Queue: b.Queue, Attributes: attrs,
			ReplaceAgent: replace, Text: say(t.st.Locale, "agent_transfer", t.st.Outcome, dest)})
	case *flow.Disconnect:
		t.toCustomer(t.render(b.Message))
		t.finish(b.Outcome, b.Outputs)
		t.effects = append(t.effects, relay.Effect{Kind: relay.EffectDisconnect, Key: t.key("d")})
	}
	return nil
}

// finish marks the session ended and releases held agent messages.
func (t *turn) finish(outcome string, outputs []*flow.Binding) {
	t.st.Status = store.SessionEnded
	t.st.Outcome = outcome
	t.st.EndedAt = t.now
	t.st.StepDeadline = time.Time{}
	t.st.WaitingAction = 0
	if len(outputs) > 0 {
		t.st.Outputs = map[string]string{}
		for _, o := range outputs {
			v, err := o.Value.Render(t.scope())
			if err != nil {
				t.e.log.Error("secure session: output cannot be rendered", "session", t.st.ID, "output", o.Name, "error", err.Error())
				continue
			}
			t.st.Outputs[o.Name] = v
		}
	}
	for _, h := range t.st.Held {
		t.effects = append(t.effects, relay.Effect{Kind: relay.EffectToCustomer, Key: "genesys:" + h.ID, Ref: h.ID, Text: h.Text, Buttons: h.Buttons})
	}
	t.st.Held = nil
}

// input handles a customer message during the session.
func (t *turn) input(e event.Event) error {
	if e.Unsupported == "nfm_reply" {
		// A WhatsApp Flow's completion, which WhatsApp sends after the form
		// was submitted: its values came through the data endpoint and the
		// session has moved on; there is nothing to answer.
		return nil
	}
	text := e.Text
	if e.Reply != nil && text == "" {
		text = e.Reply.Title
	}
	if cancelWords[normWord(text)] {
		return t.cancel()
	}
	s := t.fl.Step(t.st.Step)
	if s == nil {
		return t.abort(OutcomeError)
	}
	switch b := s.Body.(type) {
	case *flow.Collect:
		if b.Capture == flow.CaptureWhatsAppFlow {
			t.toCustomer(say(t.st.Locale, "use_form"))
			return nil
		}
		if b.Capture != flow.CaptureChat {
			// Never forwarded: the customer may have typed the very value
			// the link is for.
			t.toCustomer(say(t.st.Locale, "use_link"))
			return nil
		}
		return t.collectChat(s, b, text)
	case *flow.Confirm:
		answer := ""
		if e.Reply != nil {
			switch e.Reply.ID {
			case buttonYes:
				answer = "yes"
			case buttonNo:
				answer = "no"
			}
		}
		if answer == "" {
			switch w := normWord(text); {
			case yesWords[w]:
				answer = "yes"
			case noWords[w]:
				answer = "no"
			}
		}
		switch answer {
		case "yes":
			t.progress(s)
			t.goTo(b.Yes)
			return t.run()
		case "no":
			t.progress(s)
			t.goTo(b.No)
			return t.run()
		}
		t.toCustomer(say(t.st.Locale, "confirm_again"), t.confirmButtons(b)...)
		return nil
	default:
		t.toCustomer(say(t.st.Locale, "wait"))
		return nil
	}
}

func (t *turn) collectChat(s *flow.Step, b *flow.Collect, text string) error {
	f := b.Fields[0]
	norm, err := f.Validate(text, t.now)
	if err != nil {
		t.st.Attempts++
		max := b.Attempts
		if max <= 0 {
			max = 3
		}
		if t.st.Attempts >= max {
			return t.fail(b.OnFailure)
		}
		re := t.render(b.Reprompt)
		if re == "" {
			re = say(t.st.Locale, "reprompt") + "\n" + t.render(b.Prompt)
		}
		t.st.StepDeadline = t.stepTimeout(b.Timeout)
		t.toCustomer(re)
		return nil
	}
	ref, err := t.e.capture(t.ctx, t.st, f.Type, norm)
	if err != nil {
		return err
	}
	t.st.Vars[f.Var] = value{T: "x", Sec: ref}
	t.progress(s)
	t.goTo(b.Next)
	return t.run()
}

// captured is one value of a submitted secure-link form.
type captured struct {
	Var   string                 `json:"var"`
	Type  flow.InputType         `json:"type"`
	Token string                 `json:"token"`
	Forms map[flow.Filter]string `json:"forms,omitempty"`
}

// linkSubmitted applies a secure-link submission.
func (t *turn) linkSubmitted(step string, vals []captured) (bool, error) {
	s := t.fl.Step(t.st.Step)
	b, ok := s.Body.(*flow.Collect)
	if t.st.Step != step || !ok || !offChat(b) {
		return false, nil // stale: the session moved on
	}
	for _, v := range vals {
		t.st.Vars[v.Var] = value{T: "x", Sec: &secretRef{Type: v.Type, Token: v.Token, Forms: v.Forms}}
	}
	t.progress(s)
	t.goTo(b.Next)
	return true, t.run()
}

// linkFailed applies a secure link's failure (too many invalid entries).
func (t *turn) linkFailed(step string) (bool, error) {
	s := t.fl.Step(t.st.Step)
	b, ok := s.Body.(*flow.Collect)
	if t.st.Step != step || !ok || !offChat(b) {
		return false, nil
	}
	return true, t.fail(b.OnFailure)
}

// actionResult is the data of an action's answer.
type actionResult struct {
	OK      bool                    `json:"ok"`
	Error   string                  `json:"error,omitempty"`
	Outputs map[string]ActionOutput `json:"outputs,omitempty"`
}

// actionAnswered applies a data action's answer.
func (t *turn) actionAnswered(seq int64, res actionResult) (bool, error) {
	s := t.fl.Step(t.st.Step)
	b, ok := s.Body.(*flow.Action)
	if !ok || t.st.WaitingAction == 0 || t.st.WaitingAction != seq {
		return false, nil
	}
	t.st.WaitingAction = 0
	// Sensitive authentication data lives until the action that needs it
	// has answered (PCI DSS 3.3.1): erase every card security code it used.
	for _, w := range b.With {
		if v, err := w.Value.Value(t.scope()); err == nil {
			if ref, ok := v.(*secretRef); ok && ref.Type == flow.InputCVV {
				t.st.Erase = append(t.st.Erase, ref.Token)
				delete(t.st.Vars, refVar(t.st.Vars, ref))
			}
		}
	}
	if !res.OK {
		t.e.log.Warn("secure session: data action failed", "session", t.st.ID, "step", s.ID, "action", b.Name, "error", res.Error)
		return true, t.fail(b.OnError)
	}
	for _, m := range b.Outputs {
		out, ok := res.Outputs[m.From]
		switch {
		case m.Visibility == flow.VisibilitySecret && ok && out.Token != "":
			t.st.Vars[m.Var] = value{T: "x", Sec: &secretRef{Type: flow.InputSecret, Token: out.Token}}
		case ok && out.Public != nil:
			pv, err := publicValue(normalizeJSON(out.Public))
			if err != nil {
				pv = value{T: "s", S: fmt.Sprint(out.Public)}
			}
			t.st.Vars[m.Var] = pv
		default:
			t.st.Vars[m.Var] = value{T: "s"}
		}
	}
	t.progress(s)
	t.goTo(b.Next)
	return true, t.run()
}

func refVar(vars map[string]value, ref *secretRef) string {
	for k, v := range vars {
		if v.Sec != nil && v.Sec.Token == ref.Token {
			return k
		}
	}
	return ""
}

// normalizeJSON turns JSON numbers into int64 when whole.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
	}
	return v
}

// vaultKind maps a flow input type to the vault's kind.
func vaultKind(t flow.InputType) vault.Kind { return vault.Kind(t.VaultKind()) }

// cvvMaxAge bounds the life of a captured card security code: the
// vault's default for ephemeral values.
const cvvMaxAge = 10 * time.Minute

// capture tokenizes a captured value and returns what the state keeps.
func (e *Engine) capture(ctx context.Context, st *state, t flow.InputType, norm string) (*secretRef, error) {
	kind := vaultKind(t)
	opts := vault.Options{Principal: "flow:" + st.Flow, Retention: vault.RetainSession, Session: st.ID}
	switch t {
	case flow.InputCardNumber, flow.InputCPF, flow.InputCNPJ, flow.InputIBAN, flow.InputSSN:
		// Identifiers outlive the session so that the contact centre can
		// use the token afterwards (a refund, a lookup).
		if e.cfg.IdentifierRetention.Class != vault.ClassSession {
			opts.Retention, opts.Session = e.cfg.IdentifierRetention, ""
		}
	}
	if t == flow.InputCVV {
		// Sensitive authentication data (PCI DSS 3.3.1): erased once the
		// action that uses it has answered, and never kept longer than the
		// ephemeral class allows even if that action never runs.
		opts.TTL = cvvMaxAge
	}
	switch t {
	case flow.InputCardNumber:
		opts.Format = vault.FormatCard
	case flow.InputCPF:
		opts.Format = vault.FormatCPF
	}
	tok, err := e.cfg.Vault.Tokenize(ctx, kind, secret.FromString(norm), opts)
	if err != nil {
		return nil, fmt.Errorf("session: tokenize %s: %w", t, err)
	}
	forms := flow.Seal(t, norm).Forms()
	delete(forms, flow.FilterToken)
	return &secretRef{Type: t, Token: tok.ID, Forms: forms}, nil
}

// exprVars returns the variables expressions read: public values as they
// are, secrets revealed from the vault (each reveal audited, for the
// purpose "condition"). It also returns the names of the secrets revealed.
func (t *turn) exprVars(exprs ...*flow.Expr) (map[string]any, map[string]bool, error) {
	vars := t.scope().public()
	revealed := map[string]bool{}
	for _, e := range exprs {
		for _, name := range e.Vars() {
			v, ok := t.st.Vars[name]
			if !ok || v.Sec == nil || revealed[name] {
				continue
			}
			raw, err := t.e.cfg.Vault.Reveal(t.ctx, v.Sec.Token, "flow:"+t.st.Flow, "condition")
			if err != nil {
				return nil, nil, fmt.Errorf("session: reveal %s for a condition of step %s: %w", name, t.st.Step, err)
			}
			vars[name] = string(raw.Reveal())
			revealed[name] = true
		}
	}
	return vars, revealed, nil
}

func readsAny(e *flow.Expr, names map[string]bool) bool {
	for _, v := range e.Vars() {
		if names[v] {
			return true
		}
	}
	return false
}

// permanent reports whether a vault error will not go away by retrying.
func permanent(err error) bool {
	return errors.Is(err, vault.ErrNotFound) || errors.Is(err, vault.ErrDenied) || errors.Is(err, vault.ErrExpired) ||
		errors.Is(err, vault.ErrInvalid) || errors.Is(err, vault.ErrIntegrity)
}
