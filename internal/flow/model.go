package flow

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Pos is a position in a flow file: a 1-based line and column. The zero Pos
// means the position is unknown (a flow built in Go rather than parsed).
type Pos struct {
	Line   int // 1-based line
	Column int // 1-based column, in characters
}

// Mode says who hands the conversation to a flow.
type Mode string

// Modes.
const (
	// ModeAgentReferred: an agent hands the conversation over for the
	// sensitive part, and may stay reserved for the customer's return.
	ModeAgentReferred Mode = "agent_referred"
	// ModeSelfService: a bot flow hands the conversation over; no agent is
	// involved, so no path may return to one.
	ModeSelfService Mode = "self_service"
)

// Channel is a messaging channel a flow may run on.
type Channel string

// Channels.
const (
	// ChannelWhatsApp is the WhatsApp Business Platform, whose messaging
	// policy forbids asking in chat for card numbers, bank account numbers
	// and national identity numbers.
	ChannelWhatsApp Channel = "whatsapp"
	// ChannelOpenMessaging is any Genesys Open Messaging integration other
	// than WhatsApp.
	ChannelOpenMessaging Channel = "open_messaging"
	// ChannelWebMessaging is Genesys web messaging.
	ChannelWebMessaging Channel = "web_messaging"
)

// allChannels is what a flow without a channels key runs on.
var allChannels = []Channel{ChannelWhatsApp, ChannelOpenMessaging, ChannelWebMessaging}

// Capture says how a collect step obtains its values.
type Capture string

// Capture modes.
const (
	// CaptureChat asks in the conversation; the reply is intercepted before
	// it reaches the contact centre.
	CaptureChat Capture = "chat"
	// CaptureLink sends a one-time link to a form the gateway hosts.
	CaptureLink Capture = "link"
	// CaptureWhatsAppFlow sends a WhatsApp Flow whose data endpoint is the
	// gateway.
	CaptureWhatsAppFlow Capture = "whatsapp_flow"
)

// Type is the type of a flow input or of a data action's input or output,
// as CEL expressions see it.
type Type string

// Types.
const (
	TypeString Type = "string"
	TypeInt    Type = "int"
	TypeDouble Type = "double"
	TypeBool   Type = "bool"
)

// Visibility marks an action output mapped into a flow variable.
type Visibility string

// Visibilities.
const (
	// VisibilityPublic values may be shown, summarised, logged and returned.
	VisibilityPublic Visibility = "public"
	// VisibilitySecret values may only pass through masking filters.
	VisibilitySecret Visibility = "secret"
)

// StepKind is the type of a step.
type StepKind string

// Step kinds. The last three end the session.
const (
	KindSay           StepKind = "say"
	KindCollect       StepKind = "collect"
	KindConfirm       StepKind = "confirm"
	KindAction        StepKind = "action"
	KindSwitch        StepKind = "switch"
	KindSet           StepKind = "set"
	KindReturnToAgent StepKind = "return_to_agent"
	KindTransfer      StepKind = "transfer"
	KindDisconnect    StepKind = "disconnect"
)

// IsEnd reports whether steps of kind k end the session.
func (k StepKind) IsEnd() bool {
	return k == KindReturnToAgent || k == KindTransfer || k == KindDisconnect
}

// ConsumesInput reports whether steps of kind k wait for the customer.
func (k StepKind) ConsumesInput() bool { return k == KindCollect || k == KindConfirm }

// Flow is a parsed flow definition. A *Flow returned by [Load] or
// [LoadPaths] has passed every error rule and is ready to run; it is
// immutable and safe for concurrent use.
type Flow struct {
	// File is the name the flow was parsed under; Digest is "sha256:" and
	// the hex SHA-256 of its source, so that a running session can tell that
	// its definition changed.
	File   string
	Digest string

	// ID names the flow, for example in the agent command
	// "/secure take-payment amount=49.90".
	ID          string
	Description string
	Mode        Mode
	// ReserveAgent keeps the referring agent on the conversation, reserved
	// for the customer's return (agent-referred flows only).
	ReserveAgent bool
	// Channels are the channels the flow may run on (all of them when the
	// file does not say).
	Channels []Channel
	// Locale lists the locales every text is written in.
	Locale Locale
	// Timeout bounds the whole session; zero means the engine's default.
	Timeout time.Duration
	// Inputs are the public values passed in when a session starts.
	Inputs []*Input
	// Start is the first step (the first step in the file unless set).
	Start Target
	// OnAgentGone is where the session continues when the reserved agent
	// leaves; OnCancel when the customer cancels; OnTimeout when the session
	// times out. Each is zero when not set (the engine then disconnects).
	OnAgentGone Target
	OnCancel    Target
	OnTimeout   Target
	// Steps in file order.
	Steps []*Step

	index    map[string]*Step
	fieldPos map[string]Pos
	src      []byte
	warnings Diagnostics
}

// Step returns the step with the given id, or nil.
func (f *Flow) Step(id string) *Step {
	if f.index != nil {
		return f.index[id]
	}
	for _, s := range f.Steps {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Input returns the input with the given name, or nil.
func (f *Flow) Input(name string) *Input {
	for _, in := range f.Inputs {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// HasChannel reports whether the flow may run on channel c.
func (f *Flow) HasChannel(c Channel) bool { return slices.Contains(f.Channels, c) }

// pos returns the position of the header key name, or the zero Pos.
func (f *Flow) pos(name string) Pos { return f.fieldPos[name] }

// Locale lists the locales every text of a flow is written in.
type Locale struct {
	// Default is the locale used when the conversation's is not supported.
	Default string
	// Supported lists every locale, Default included.
	Supported []string
	// Pos is where the locale key is (the zero Pos when absent).
	Pos Pos
}

// Match returns the supported locale to use for a conversation in locale
// tag: tag itself if supported, else the first supported locale of the same
// language ("pt" or "pt-PT" gives "pt-BR"), else Default.
func (l Locale) Match(tag string) string {
	if slices.Contains(l.Supported, tag) {
		return tag
	}
	lang, _, _ := strings.Cut(tag, "-")
	for _, s := range l.Supported {
		if sl, _, _ := strings.Cut(s, "-"); strings.EqualFold(sl, lang) {
			return s
		}
	}
	return l.Default
}

// Input is a public value passed to a session when it starts.
type Input struct {
	// Name is the variable the input is read as.
	Name string
	Type Type
	// Required inputs must be passed when a session starts.
	Required    bool
	Description string
	// Default is what an optional input takes when it is not passed: a
	// string, int64, float64 or bool per Type (the type's zero value unless
	// the file says otherwise); nil for a required input.
	Default any
	Pos     Pos
}

// Target names the step a transition goes to.
type Target struct {
	// Step is the id of the step; empty when the transition is not set.
	Step string
	// Pos is where the reference is written.
	Pos Pos
}

// IsZero reports whether t names no step.
func (t Target) IsZero() bool { return t.Step == "" }

// Edge is a labelled transition out of a step. Labels are the YAML keys
// ("next", "on_failure", "yes", ...), or "when #n" for the n-th switch case.
type Edge struct {
	Label  string // "next", "on_failure", "yes", "when #2", ...
	Target Target // where the transition goes
}

// Step is one state of a flow.
type Step struct {
	// ID is unique within the flow.
	ID string
	// Pos is where the step's mapping starts.
	Pos Pos
	// Body holds what the step does: one of *Say, *Collect, *Confirm,
	// *Action, *Switch, *Set, *ReturnToAgent, *Transfer or *Disconnect.
	Body Body
	// Progress is shown to a reserved agent when the step completes, for
	// example "card •••• {{ card | last4 }} received". It may be zero.
	Progress Text
	// Log lists fields written to the gateway's log when the step completes.
	Log []*Binding
}

// Kind returns the kind of the step's body.
func (s *Step) Kind() StepKind {
	if s.Body == nil {
		return ""
	}
	return s.Body.Kind()
}

// Edges returns the step's outgoing transitions (none for ends).
func (s *Step) Edges() []Edge {
	if s.Body == nil {
		return nil
	}
	return s.Body.Edges()
}

// Body is what a step does. The implementations are the pointer types of
// this package listed on [Step.Body].
type Body interface {
	Kind() StepKind
	Edges() []Edge
	body()
}

// Say sends a message and continues.
type Say struct {
	Text Text   // the message
	Next Target // the step after
}

// Collect asks the customer for one or more values. Every collected value is
// a secret.
type Collect struct {
	// Capture says where the customer enters the values.
	Capture Capture
	// Fields are the values asked for: one with chat capture, one or more
	// on a secure-link form or a WhatsApp Flow.
	Fields []*Field
	// Prompt asks for the values; Reprompt asks again after invalid input.
	Prompt   Text
	Reprompt Text
	// Attempts is how many inputs are accepted before OnFailure (default 3).
	Attempts int
	// Timeout is the inactivity timeout (zero: the engine's default).
	Timeout time.Duration
	// Next follows valid input, OnFailure the last failed attempt, and
	// OnTimeout inactivity (OnFailure when not set in the file).
	Next      Target
	OnFailure Target
	OnTimeout Target

	capturePos Pos
}

// Field is one value a collect step asks for.
type Field struct {
	// Var is the variable that receives the value.
	Var  string
	Type InputType
	// Length is the exact length for digits and otp.
	Length int
	// MinLength and MaxLength bound password, text and pattern input, in
	// characters; zero means the type's default.
	MinLength int
	MaxLength int
	// Pattern must match the whole input for kind pattern.
	Pattern *regexp.Regexp
	// Label names the field on a secure-link form or WhatsApp Flow (a
	// built-in label per type unless the file says otherwise).
	Label Text
	// Pos is where the field's mapping starts.
	Pos Pos
}

// Confirm reads values back (masked) and asks yes or no.
type Confirm struct {
	// Text is the read-back, with secrets masked.
	Text Text
	// YesLabel and NoLabel are the buttons' labels (built-in unless the file
	// says otherwise).
	YesLabel Text
	NoLabel  Text
	// Timeout is the inactivity timeout (zero: the engine's default).
	Timeout time.Duration
	// Yes and No follow the buttons; OnTimeout follows inactivity (No when
	// not set in the file).
	Yes       Target
	No        Target
	OnTimeout Target
}

// Action calls a named data action. Secrets reach it only as whole values
// of inputs the catalog marks secret; the action reveals them into the
// outgoing request alone.
type Action struct {
	// Name is the action's name in the catalog; NamePos is where it is
	// written.
	Name    string
	NamePos Pos
	// With binds the action's inputs to templates.
	With []*Binding
	// Outputs map the action's outputs to flow variables.
	Outputs []*OutputMapping
	// Timeout bounds the call (zero: the action's own default).
	Timeout time.Duration
	// Next follows success; OnError follows a failure or a timeout.
	Next    Target
	OnError Target
}

// OutputMapping stores one output of a data action in a variable.
type OutputMapping struct {
	// Var is the flow variable that receives the output From.
	Var  string
	From string
	// Visibility says whether Var holds a public value or a secret.
	Visibility Visibility
	// Filter, if set, masks the output; the variable then holds the
	// masked form, a public string.
	Filter Filter
	// Pos is where Var is written.
	Pos Pos
}

// Switch goes to the first case whose condition holds, else to Default.
type Switch struct {
	Cases   []*Case // tried in order
	Default Target  // taken when no case holds
}

// Case is one branch of a switch.
type Case struct {
	When *Expr  // a CEL condition of type bool
	Next Target // taken when When is true
}

// Set assigns variables from CEL expressions, in order.
type Set struct {
	Assign []*Assignment // in file order
	Next   Target
}

// Assignment is one variable of a set step.
type Assignment struct {
	Var   string // the variable assigned
	Value *Expr  // a CEL expression of type string, int, uint, double or bool
	Pos   Pos    // where Var is written
}

// ReturnToAgent ends the session by handing the customer back to the
// reserved agent, who sees Summary.
type ReturnToAgent struct {
	Summary Text
	// Message, if set, is sent to the customer.
	Message Text
	// Outcome labels how the session ended, for its result.
	Outcome string
	// Outputs are public results of the session.
	Outputs []*Binding
}

// Transfer ends the session by transferring the customer to a queue or
// another destination.
type Transfer struct {
	// Queue or Destination (exactly one is set) is where the customer goes.
	Queue       string
	Destination string
	// Attributes are set on the conversation (custom attributes).
	Attributes []*Binding
	// Message, if set, is sent to the customer.
	Message Text
	// Outcome labels how the session ended, for its result.
	Outcome string
	// Outputs are public results of the session.
	Outputs []*Binding
}

// Disconnect ends the session and the conversation.
type Disconnect struct {
	// Message, if set, is the closing message to the customer.
	Message Text
	// Outcome labels how the session ended, for its result.
	Outcome string
	// Outputs are public results of the session.
	Outputs []*Binding
}

// Binding is a named template: an action input, a transfer attribute, a
// session output or a log field.
type Binding struct {
	Name  string    // the input, attribute, output or field name
	Value *Template // what it is set to
	Pos   Pos       // where Name is written
}

// Kind returns [KindSay].
func (*Say) Kind() StepKind { return KindSay }

// Kind returns [KindCollect].
func (*Collect) Kind() StepKind { return KindCollect }

// Kind returns [KindConfirm].
func (*Confirm) Kind() StepKind { return KindConfirm }

// Kind returns [KindAction].
func (*Action) Kind() StepKind { return KindAction }

// Kind returns [KindSwitch].
func (*Switch) Kind() StepKind { return KindSwitch }

// Kind returns [KindSet].
func (*Set) Kind() StepKind { return KindSet }

// Kind returns [KindReturnToAgent].
func (*ReturnToAgent) Kind() StepKind { return KindReturnToAgent }

// Kind returns [KindTransfer].
func (*Transfer) Kind() StepKind { return KindTransfer }

// Kind returns [KindDisconnect].
func (*Disconnect) Kind() StepKind { return KindDisconnect }

// Edges returns the next transition.
func (b *Say) Edges() []Edge { return []Edge{{"next", b.Next}} }

// Edges returns the next, on_failure and on_timeout transitions.
func (b *Collect) Edges() []Edge {
	return []Edge{{"next", b.Next}, {"on_failure", b.OnFailure}, {"on_timeout", b.OnTimeout}}
}

// Edges returns the yes, no and on_timeout transitions.
func (b *Confirm) Edges() []Edge {
	return []Edge{{"yes", b.Yes}, {"no", b.No}, {"on_timeout", b.OnTimeout}}
}

// Edges returns the next and on_error transitions.
func (b *Action) Edges() []Edge { return []Edge{{"next", b.Next}, {"on_error", b.OnError}} }

// Edges returns one transition per case, then the default.
func (b *Switch) Edges() []Edge {
	es := make([]Edge, 0, len(b.Cases)+1)
	for i, c := range b.Cases {
		es = append(es, Edge{"when #" + strconv.Itoa(i+1), c.Next})
	}
	return append(es, Edge{"default", b.Default})
}

// Edges returns the next transition.
func (b *Set) Edges() []Edge { return []Edge{{"next", b.Next}} }

// Edges returns nil: the step ends the session.
func (*ReturnToAgent) Edges() []Edge { return nil }

// Edges returns nil: the step ends the session.
func (*Transfer) Edges() []Edge { return nil }

// Edges returns nil: the step ends the session.
func (*Disconnect) Edges() []Edge { return nil }

func (*Say) body()           {}
func (*Collect) body()       {}
func (*Confirm) body()       {}
func (*Action) body()        {}
func (*Switch) body()        {}
func (*Set) body()           {}
func (*ReturnToAgent) body() {}
func (*Transfer) body()      {}
func (*Disconnect) body()    {}

// Text is a localized template: either one template for every locale
// (written as a plain string) or one per locale.
type Text struct {
	// Plain is the template for every locale, if the file wrote a string.
	Plain *Template
	// Localized maps each supported locale to its template otherwise.
	Localized map[string]*Template
	// Pos is where the text is written.
	Pos Pos
}

// IsZero reports whether t holds no template.
func (t Text) IsZero() bool { return t.Plain == nil && len(t.Localized) == 0 }

// For returns the template for locale, or nil when t has none for it.
func (t Text) For(locale string) *Template {
	if tpl, ok := t.Localized[locale]; ok {
		return tpl
	}
	return t.Plain
}

// templates returns every template of t, in locale order.
func (t Text) templates() []*Template {
	if t.Plain != nil {
		return []*Template{t.Plain}
	}
	keys := make([]string, 0, len(t.Localized))
	for k := range t.Localized {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*Template, 0, len(keys))
	for _, k := range keys {
		out = append(out, t.Localized[k])
	}
	return out
}
