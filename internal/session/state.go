package session

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/flow"
)

// stateVersion is the version of the state encoding.
const stateVersion = 1

// state is a session's durable state, sealed in store.SessionRecord.State.
type state struct {
	V            int    `json:"v"`
	ID           string `json:"id"`
	Flow         string `json:"flow"`
	Digest       string `json:"digest"`
	Mode         string `json:"mode"`
	Conversation string `json:"conversation"`
	Peer         string `json:"peer,omitempty"`
	Locale       string `json:"locale"`
	Principal    string `json:"principal"`
	// Reserved: the referring agent stays on the conversation for the
	// customer's return; AgentGone: that agent has left since.
	Reserved  bool `json:"reserved,omitempty"`
	AgentGone bool `json:"agent_gone,omitempty"`

	Status string `json:"status"`
	Seq    int64  `json:"seq"`
	Step   string `json:"step,omitempty"`
	// Attempts counts failed inputs at the current collect step.
	Attempts     int       `json:"attempts,omitempty"`
	StepDeadline time.Time `json:"step_deadline,omitzero"`
	Expires      time.Time `json:"expires"`
	// WaitingAction is the Seq of the data-action call in flight (0: none).
	WaitingAction int64 `json:"waiting_action,omitempty"`

	Vars map[string]value `json:"vars"`
	// Held are agent messages held back while the session runs.
	Held []held `json:"held,omitempty"`

	Outcome   string            `json:"outcome,omitempty"`
	Outputs   map[string]string `json:"outputs,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	EndedAt   time.Time         `json:"ended_at,omitzero"`
	// Erase lists vault tokens to erase once the session's state is saved
	// (a card security code after its action answered).
	Erase []string `json:"erase,omitempty"`
}

// held is an agent message held back during a session.
type held struct {
	ID      string         `json:"id"`
	Text    string         `json:"text"`
	Buttons []event.Button `json:"buttons,omitempty"`
}

// value is a flow variable: a public value or a secret, which the state
// keeps as a vault token and its masked forms only.
type value struct {
	T   string     `json:"t"` // "s", "i", "d", "b" or "x" (secret)
	S   string     `json:"s,omitempty"`
	I   int64      `json:"i,omitempty"`
	D   float64    `json:"d,omitempty"`
	B   bool       `json:"b,omitempty"`
	Sec *secretRef `json:"x,omitempty"`
}

func publicValue(v any) (value, error) {
	switch v := v.(type) {
	case string:
		return value{T: "s", S: v}, nil
	case int64:
		return value{T: "i", I: v}, nil
	case int:
		return value{T: "i", I: int64(v)}, nil
	case uint64:
		return value{T: "i", I: int64(v)}, nil
	case float64:
		return value{T: "d", D: v}, nil
	case bool:
		return value{T: "b", B: v}, nil
	default:
		return value{}, fmt.Errorf("session: a variable cannot hold %T", v)
	}
}

// get returns the value as templates and expressions see it.
func (v value) get() any {
	switch v.T {
	case "i":
		return v.I
	case "d":
		return v.D
	case "b":
		return v.B
	case "x":
		return v.Sec
	default:
		return v.S
	}
}

// secretRef is a captured secret as the state holds it. It implements
// flow.Secret: templates get masked forms only.
type secretRef struct {
	Type  flow.InputType         `json:"type"`
	Token string                 `json:"token"`
	Forms map[flow.Filter]string `json:"forms,omitempty"`
}

// Masked implements flow.Secret.
func (s *secretRef) Masked(f flow.Filter) (string, error) {
	if !s.Type.Allows(f) {
		return "", fmt.Errorf("%w: %s on %s", flow.ErrFilterNotAllowed, f, s.Type)
	}
	if f == flow.FilterToken {
		return s.Token, nil
	}
	if v, ok := s.Forms[f]; ok {
		return v, nil
	}
	return "", fmt.Errorf("%w: %s", flow.ErrFilterUnavailable, f)
}

// String never shows the value (it is not here to show).
func (s *secretRef) String() string { return "[secret " + string(s.Type) + "]" }

// scope is the state's variables as flow templates see them.
type scope map[string]value

// Lookup implements flow.Scope.
func (s scope) Lookup(name string) (any, bool) {
	v, ok := s[name]
	if !ok {
		return nil, false
	}
	return v.get(), true
}

// public returns the public variables, for CEL expressions (which never
// see secrets: the linter refuses them there).
func (s scope) public() map[string]any {
	out := make(map[string]any, len(s))
	for k, v := range s {
		if v.T != "x" {
			out[k] = v.get()
		}
	}
	return out
}

func (st *state) clone() *state {
	c := *st
	c.Vars = maps.Clone(st.Vars)
	c.Held = append([]held(nil), st.Held...)
	c.Outputs = maps.Clone(st.Outputs)
	c.Erase = nil
	return &c
}

func (st *state) marshal() ([]byte, error) { return json.Marshal(st) }

func unmarshalState(b []byte) (*state, error) {
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("session: decode state: %w", err)
	}
	if st.V != stateVersion {
		return nil, fmt.Errorf("session: state version %d is not supported", st.V)
	}
	if st.Vars == nil {
		st.Vars = map[string]value{}
	}
	return &st, nil
}
