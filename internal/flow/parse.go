package flow

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Options configure parsing and linting.
type Options struct {
	// Actions is the catalog of data actions flows may call, by name. An
	// action step naming an action missing here is an error.
	Actions map[string]ActionSpec
}

// Names and identifiers.
var (
	reFlowID   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	reStepID   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)
	reVar      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	reAction   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$`)
	reBinding  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)
	reLocale   = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z]{2}|-[0-9]{3})?$`)
	reOutcome  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	reDigitsOf = regexp.MustCompile(`^digits\(([1-9][0-9]?)\)$`)
)

const (
	ruleFlowID  = "use lower-case letters, digits, '-' and '_' (at most 64)"
	ruleStepID  = "start with a letter; then letters, digits, '-' and '_' (at most 64)"
	ruleVar     = "use letters, digits and '_', not starting with a digit (at most 64)"
	ruleAction  = "dot-separated names of letters, digits and '_'"
	ruleBinding = "start with a letter or '_'; then letters, digits, '_', '.' and '-' (at most 64)"
	ruleOutcome = "letters, digits, '_', '.' and '-' (at most 64)"
)

// reserved are names a flow variable cannot take: CEL's reserved words and
// the variables every flow has (see builtinVars).
var reserved = []string{
	"false", "in", "null", "true", "as", "break", "const", "continue", "else", "for",
	"function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
	"void", "while",
}

// builtinVars are defined in every flow, public, and set by the engine.
var builtinVars = map[string]Type{
	"channel":       TypeString, // the channel the session runs on, e.g. "whatsapp"
	"locale":        TypeString, // the locale the session speaks, e.g. "pt-BR"
	"agent_present": TypeBool,   // whether a reserved agent is still on the conversation
}

// Limits and defaults.
const (
	defaultAttempts  = 3
	maxAttempts      = 10
	maxSteps         = 500
	maxTimeout       = 24 * time.Hour
	maxActionTimeout = 10 * time.Minute
)

// Keys of each part of a flow, for unknown-field checks.
var (
	headerKeys   = []string{"id", "description", "mode", "reserve_agent", "channels", "locale", "timeout", "inputs", "start", "on_agent_gone", "on_cancel", "on_timeout", "steps"}
	commonKeys   = []string{"id", "type", "progress", "log"}
	bodyKeys     = map[StepKind][]string{KindSay: {"text", "next"}, KindCollect: {"capture", "fields", "prompt", "reprompt", "attempts", "timeout", "next", "on_failure", "on_timeout"}, KindConfirm: {"text", "yes_label", "no_label", "timeout", "yes", "no", "on_timeout"}, KindAction: {"action", "with", "outputs", "timeout", "next", "on_error"}, KindSwitch: {"cases", "default"}, KindSet: {"set", "next"}, KindReturnToAgent: {"summary", "message", "outcome", "outputs"}, KindTransfer: {"queue", "destination", "attributes", "message", "outcome", "outputs"}, KindDisconnect: {"message", "outcome", "outputs"}}
	stepKinds    = []string{string(KindSay), string(KindCollect), string(KindConfirm), string(KindAction), string(KindSwitch), string(KindSet), string(KindReturnToAgent), string(KindTransfer), string(KindDisconnect)}
	fieldKeys    = []string{"var", "type", "label", "length", "min_length", "max_length", "pattern"}
	inputKeys    = []string{"type", "required", "default", "description"}
	outputKeys   = []string{"from", "visibility", "filter"}
	caseKeys     = []string{"when", "next"}
	localeKeys   = []string{"default", "supported"}
	valueTypes   = []string{string(TypeString), string(TypeInt), string(TypeDouble), string(TypeBool)}
	channelNames = []string{string(ChannelWhatsApp), string(ChannelOpenMessaging), string(ChannelWebMessaging)}
)

// builtinTexts are the texts used where a flow does not write its own.
var builtinTexts = map[string]map[string]string{
	"reprompt": {
		"en":    "That doesn't look right. Please try again.",
		"pt-BR": "Parece que há algo errado. Por favor, tente novamente.",
		"es":    "Eso no parece correcto. Por favor, inténtalo de nuevo.",
	},
	"yes_label": {"en": "Yes", "pt-BR": "Sim", "es": "Sí"},
	"no_label":  {"en": "No", "pt-BR": "Não", "es": "No"},
}

// parser holds the state of one Parse.
type parser struct {
	*decoder
	f *Flow
}

// Parse decodes one flow file. filename is used in diagnostics only. It
// checks the structure of the file (fields, types, ranges, identifiers,
// translations, template and pattern syntax) and returns the flow with the
// diagnostics found. The flow is nil when the file is not a YAML mapping;
// otherwise it holds what could be decoded, and is fit for [Lint] only if
// the diagnostics hold no error. Parse never panics, whatever src holds.
// opts is accepted for symmetry with [Lint]; parsing needs no catalog.
func Parse(filename string, src []byte, opts Options) (*Flow, Diagnostics) {
	_ = opts
	p := &parser{decoder: newDecoder(filename, src)}
	root := p.document(src)
	if root == nil {
		p.ds.Sort()
		return nil, p.ds
	}
	sum := sha256.Sum256(src)
	p.f = &Flow{
		File:     filename,
		Digest:   "sha256:" + hex.EncodeToString(sum[:]),
		index:    map[string]*Step{},
		fieldPos: map[string]Pos{},
		src:      src,
	}
	p.header(root)
	p.ds.Sort()
	return p.f, p.ds
}

func (p *parser) header(root *yaml.Node) {
	o := p.object(root, "the flow", headerKeys...)
	if o == nil {
		return
	}
	f := p.f
	for k, n := range o.keys {
		f.fieldPos[k] = posOf(n)
	}
	o.require("id", "mode", "steps")
	f.ID, _ = o.name("id", reFlowID, ruleFlowID)
	if o.has("description") {
		f.Description, _ = o.str("description")
	}
	if m, ok := o.enum("mode", string(ModeAgentReferred), string(ModeSelfService)); ok {
		f.Mode = Mode(m)
	}
	if o.has("reserve_agent") {
		f.ReserveAgent, _ = o.boolean("reserve_agent")
		if f.Mode == ModeSelfService {
			p.report(o.keyPos("reserve_agent"), RuleInvalidValue, "reserve_agent applies to agent_referred flows only: a self-service flow has no agent to reserve")
		}
	}
	p.channels(o)
	p.locale(o)
	if o.has("timeout") {
		f.Timeout, _ = o.duration("timeout", time.Minute, maxTimeout)
	}
	if o.has("inputs") {
		p.inputs(o.vals["inputs"])
	}
	if items, ok := o.list("steps"); ok {
		p.steps(items)
	}
	f.Start = p.target(o, "start")
	if f.Start.IsZero() && len(f.Steps) > 0 {
		f.Start = Target{Step: f.Steps[0].ID, Pos: f.Steps[0].Pos}
	}
	f.OnAgentGone = p.target(o, "on_agent_gone")
	f.OnCancel = p.target(o, "on_cancel")
	f.OnTimeout = p.target(o, "on_timeout")
}

func (p *parser) channels(o *object) {
	p.f.Channels = slices.Clone(allChannels)
	items, ok := o.list("channels")
	if !ok {
		return
	}
	p.f.Channels = nil
	for _, n := range items {
		s, ok := p.str(n, "a channel")
		if !ok {
			continue
		}
		switch {
		case !slices.Contains(channelNames, s):
			p.report(posOf(n), RuleInvalidValue, "channel must be one of %s, not %q", strings.Join(channelNames, ", "), s)
		case slices.Contains(p.f.Channels, Channel(s)):
			p.report(posOf(n), RuleInvalidValue, "channel %q is listed twice", s)
		default:
			p.f.Channels = append(p.f.Channels, Channel(s))
		}
	}
}

func (p *parser) locale(o *object) {
	l := Locale{Default: "en", Supported: []string{"en"}, Pos: o.keyPos("locale")}
	defer func() { p.f.Locale = l }()
	n, ok := o.vals["locale"]
	if !ok {
		return
	}
	lo := p.object(n, "locale", localeKeys...)
	if lo == nil {
		return
	}
	lo.require("default")
	def, ok := lo.str("default")
	if ok && !reLocale.MatchString(def) {
		p.report(posOf(lo.vals["default"]), RuleInvalidValue, "locale %q is not a language tag such as en, pt-BR or es", def)
		ok = false
	}
	if !ok {
		return
	}
	l.Default, l.Supported = def, []string{def}
	items, ok := lo.list("supported")
	if !ok {
		return
	}
	l.Supported = nil
	for _, it := range items {
		s, ok := p.str(it, "a locale")
		switch {
		case !ok:
		case !reLocale.MatchString(s):
			p.report(posOf(it), RuleInvalidValue, "locale %q is not a language tag such as en, pt-BR or es", s)
		case slices.Contains(l.Supported, s):
			p.report(posOf(it), RuleInvalidValue, "locale %q is listed twice", s)
		default:
			l.Supported = append(l.Supported, s)
		}
	}
	if !slices.Contains(l.Supported, def) {
		p.report(posOf(lo.vals["default"]), RuleInvalidValue, "the default locale %q is not in supported", def)
		l.Supported = append(l.Supported, def)
	}
}

func (p *parser) inputs(n *yaml.Node) {
	o := p.object(n, "inputs")
	if o == nil {
		return
	}
	for _, name := range o.keysInOrder() {
		kn, vn := o.keys[name], o.vals[name]
		if !p.varName(kn, name) {
			continue
		}
		obj := p.object(vn, "input "+name, inputKeys...)
		if obj == nil {
			continue
		}
		in := &Input{Name: name, Type: TypeString, Pos: posOf(kn)}
		obj.require("type")
		if t, ok := obj.enum("type", valueTypes...); ok {
			in.Type = Type(t)
		}
		in.Required, _ = obj.boolean("required")
		if obj.has("description") {
			in.Description, _ = obj.str("description")
		}
		if dn, ok := obj.vals["default"]; ok {
			if in.Required {
				p.report(posOf(dn), RuleInvalidValue, "input %s is required, so its default would never be used", name)
			}
			in.Default = p.typedValue(dn, in.Type, "default of input "+name)
		}
		if in.Default == nil && !in.Required {
			in.Default = map[Type]any{TypeString: "", TypeInt: int64(0), TypeDouble: 0.0, TypeBool: false}[in.Type]
		}
		p.f.Inputs = append(p.f.Inputs, in)
	}
}

// typedValue decodes a scalar of type t.
func (p *parser) typedValue(n *yaml.Node, t Type, what string) any {
	want := map[Type]string{TypeString: "!!str", TypeInt: "!!int", TypeDouble: "!!float", TypeBool: "!!bool"}[t]
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != want && !(t == TypeDouble && tag == "!!int")) {
		p.report(posOf(n), RuleInvalidValue, "%s must be a %s, not %s", what, t, describe(n))
		return nil
	}
	switch t {
	case TypeInt:
		v, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			p.report(posOf(n), RuleInvalidValue, "%s is out of range", what)
			return nil
		}
		return v
	case TypeDouble:
		v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil {
			p.report(posOf(n), RuleInvalidValue, "%s is not a number", what)
			return nil
		}
		return v
	case TypeBool:
		v, _ := strconv.ParseBool(n.Value)
		return v
	}
	return n.Value
}

// varName checks a variable name given as the key node kn.
func (p *parser) varName(kn *yaml.Node, name string) bool {
	switch {
	case !reVar.MatchString(name):
		p.report(posOf(kn), RuleInvalidValue, "variable name %q is not valid: %s", name, ruleVar)
	case slices.Contains(reserved, name):
		p.report(posOf(kn), RuleInvalidValue, "variable name %q is a reserved word", name)
	case builtinVars[name] != "":
		p.report(posOf(kn), RuleInvalidValue, "variable name %q is reserved: every flow has it", name)
	default:
		return true
	}
	return false
}

func (p *parser) steps(items []*yaml.Node) {
	if len(items) > maxSteps {
		p.report(posOf(items[maxSteps]), RuleInvalidValue, "a flow has at most %d steps", maxSteps)
		items = items[:maxSteps]
	}
	for _, n := range items {
		s := p.step(n)
		if s == nil {
			continue
		}
		if prev, dup := p.f.index[s.ID]; dup {
			p.report(s.Pos, RuleDuplicateID, "step id %q is already used at line %d", s.ID, prev.Pos.Line)
			continue
		}
		p.f.index[s.ID] = s
		p.f.Steps = append(p.f.Steps, s)
	}
}

// step decodes one step; it returns nil if the step has no usable id.
func (p *parser) step(n *yaml.Node) *Step {
	if n.Kind != yaml.MappingNode {
		p.report(posOf(n), RuleInvalidValue, "a step must be a mapping, not %s", describe(n))
		return nil
	}
	// Read id and type first so that unknown-field messages can name them.
	pre := p.object(n, "a step", nil...)
	what := "step"
	var id string
	if _, ok := pre.vals["id"]; ok {
		id, _ = pre.name("id", reStepID, ruleStepID)
		if id != "" {
			what = "step " + id
		}
	}
	var kind StepKind
	if _, ok := pre.vals["type"]; ok {
		pre.what = what
		if k, ok := pre.enum("type", stepKinds...); ok {
			kind = StepKind(k)
		}
	}
	// The pre-pass reported malformed and duplicate keys and a bad id or
	// type; the second pass, knowing the type, adds unknown keys only.
	known := slices.Concat(commonKeys, bodyKeys[kind])
	if kind == "" {
		known = nil // unknown type: do not also flag every key
	}
	o := p.objectQuiet(n, what, known)
	if !o.has("id") {
		p.report(posOf(n), RuleMissingField, "a step needs \"id\"")
		return nil
	}
	if id == "" {
		return nil
	}
	s := &Step{ID: id, Pos: posOf(n)}
	if !o.has("type") {
		p.report(posOf(n), RuleMissingField, "%s needs \"type\" (one of %s)", what, strings.Join(stepKinds, ", "))
		return s
	}
	if kind == "" {
		return s
	}
	if pn, ok := o.vals["progress"]; ok {
		s.Progress = p.text(pn, "progress of "+what)
	}
	if ln, ok := o.vals["log"]; ok {
		s.Log = p.bindings(ln, "log of "+what)
	}
	switch kind {
	case KindSay:
		s.Body = p.say(o)
	case KindCollect:
		s.Body = p.collect(o)
	case KindConfirm:
		s.Body = p.confirm(o)
	case KindAction:
		s.Body = p.action(o)
	case KindSwitch:
		s.Body = p.switchStep(o)
	case KindSet:
		s.Body = p.set(o)
	case KindReturnToAgent:
		s.Body = p.returnToAgent(o)
	case KindTransfer:
		s.Body = p.transfer(o)
	case KindDisconnect:
		s.Body = p.disconnect(o)
	}
	return s
}

// objectQuiet is object for a mapping already checked for key syntax and
// duplicates by a pre-pass: it reports unknown keys only.
func (p *parser) objectQuiet(n *yaml.Node, what string, known []string) *object {
	saved := len(p.ds)
	o := p.object(n, what, known...)
	kept := p.ds[:saved]
	for _, d := range p.ds[saved:] {
		if d.Rule == RuleUnknownField {
			kept = append(kept, d)
		}
	}
	p.ds = kept
	return o
}

// target decodes a step reference; dangling references are the linter's.
func (p *parser) target(o *object, key string) Target {
	n, ok := o.vals[key]
	if !ok {
		return Target{}
	}
	s, ok := p.str(n, fmt.Sprintf("%s of %s", key, o.what))
	if !ok {
		return Target{}
	}
	return Target{Step: s, Pos: posOf(n)}
}

// requiredTarget is target for a key that must be present.
func (p *parser) requiredTarget(o *object, key string) Target {
	o.require(key)
	return p.target(o, key)
}

func (p *parser) optDuration(o *object, key string, hi time.Duration) time.Duration {
	if !o.has(key) {
		return 0
	}
	d, _ := o.duration(key, time.Second, hi)
	return d
}

func (p *parser) say(o *object) *Say {
	o.require("text")
	b := &Say{Next: p.requiredTarget(o, "next")}
	if n, ok := o.vals["text"]; ok {
		b.Text = p.text(n, "text of "+o.what)
	}
	return b
}

func (p *parser) collect(o *object) *Collect {
	o.require("capture", "fields", "prompt")
	b := &Collect{Attempts: defaultAttempts}
	if c, ok := o.enum("capture", string(CaptureChat), string(CaptureLink), string(CaptureWhatsAppFlow)); ok {
		b.Capture = Capture(c)
		b.capturePos = posOf(o.vals["capture"])
	}
	if items, ok := o.list("fields"); ok {
		for _, n := range items {
			fd := p.field(n, o.what)
			if fd == nil {
				continue
			}
			if fd.Var != "" && slices.ContainsFunc(b.Fields, func(g *Field) bool { return g.Var == fd.Var }) {
				p.report(fd.Pos, RuleInvalidValue, "%s collects %s twice", o.what, fd.Var)
				continue
			}
			b.Fields = append(b.Fields, fd)
		}
		if b.Capture == CaptureChat && len(items) > 1 {
			p.report(o.keyPos("fields"), RuleInvalidValue, "%s captures in chat, which asks for one field at a time; split it or use capture: link", o.what)
		}
	}
	if n, ok := o.vals["prompt"]; ok {
		b.Prompt = p.text(n, "prompt of "+o.what)
	}
	b.Reprompt = p.optText(o, "reprompt")
	if o.has("attempts") {
		b.Attempts, _ = o.integer("attempts", 1, maxAttempts)
	}
	b.Timeout = p.optDuration(o, "timeout", maxTimeout)
	b.Next = p.requiredTarget(o, "next")
	b.OnFailure = p.requiredTarget(o, "on_failure")
	b.OnTimeout = p.target(o, "on_timeout")
	if b.OnTimeout.IsZero() {
		b.OnTimeout = b.OnFailure
	}
	return b
}

func (p *parser) field(n *yaml.Node, step string) *Field {
	o := p.object(n, "a field of "+step, fieldKeys...)
	if o == nil {
		return nil
	}
	fd := &Field{Pos: posOf(n)}
	o.require("var", "type")
	if v, ok := o.str("var"); ok && p.varName(o.vals["var"], v) {
		fd.Var = v
		o.what = "field " + v
	}
	ts, ok := o.str("type")
	if !ok {
		return nil
	}
	if m := reDigitsOf.FindStringSubmatch(ts); m != nil {
		fd.Type = InputDigits
		fd.Length, _ = strconv.Atoi(m[1])
	} else {
		fd.Type = InputType(ts)
	}
	info := inputTypes[fd.Type]
	if info == nil || !info.collectable || ts == string(InputDigits) {
		var names []string
		for t, in := range inputTypes {
			if in.collectable && t != InputDigits {
				names = append(names, string(t))
			}
		}
		slices.Sort(names)
		names = append(names, "digits(n)")
		p.report(posOf(o.vals["type"]), RuleInvalidValue, "type of %s must be one of %s, not %q", o.what, strings.Join(names, ", "), ts)
		return nil
	}
	for _, k := range []string{"length", "min_length", "max_length", "pattern"} {
		if o.has(k) && !slices.Contains(info.params, k) {
			p.report(o.keyPos(k), RuleInvalidValue, "%s does not apply to type %s", k, fd.Type)
		}
	}
	if o.has("length") && fd.Type == InputOTP {
		fd.Length, _ = o.integer("length", 4, 10)
	}
	if o.has("min_length") && slices.Contains(info.params, "min_length") {
		fd.MinLength, _ = o.integer("min_length", 1, 1024)
	}
	if o.has("max_length") && slices.Contains(info.params, "max_length") {
		fd.MaxLength, _ = o.integer("max_length", 1, 1024)
	}
	if fd.MinLength > 0 && fd.MaxLength > 0 && fd.MinLength > fd.MaxLength {
		p.report(o.keyPos("min_length"), RuleInvalidValue, "min_length of %s is greater than max_length", o.what)
	}
	if fd.Type == InputPattern {
		o.require("pattern")
		if src, ok := o.str("pattern"); ok {
			re, err := regexp.Compile(`^(?:` + src + `)$`)
			if err != nil {
				p.report(posOf(o.vals["pattern"]), RuleInvalidValue, "pattern of %s is not a valid RE2 regular expression: %s", o.what, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			} else {
				fd.Pattern = re
			}
		}
	}
	fd.Label = p.optText(o, "label")
	if fd.Label.IsZero() && len(info.label) > 0 {
		fd.Label = p.builtinText(info.label, "label of "+o.what, o.node)
	}
	return fd
}

func (p *parser) confirm(o *object) *Confirm {
	o.require("text")
	b := &Confirm{}
	if n, ok := o.vals["text"]; ok {
		b.Text = p.text(n, "text of "+o.what)
	}
	b.YesLabel = p.optText(o, "yes_label")
	b.NoLabel = p.optText(o, "no_label")
	b.Timeout = p.optDuration(o, "timeout", maxTimeout)
	b.Yes = p.requiredTarget(o, "yes")
	b.No = p.requiredTarget(o, "no")
	b.OnTimeout = p.target(o, "on_timeout")
	if b.OnTimeout.IsZero() {
		b.OnTimeout = b.No
	}
	return b
}

// optText decodes an optional text; absent texts that have a built-in
// default get it.
func (p *parser) optText(o *object, key string) Text {
	if n, ok := o.vals[key]; ok {
		return p.text(n, key+" of "+o.what)
	}
	if def, ok := builtinTexts[key]; ok {
		return p.builtinText(def, key+" of "+o.what, o.node)
	}
	return Text{}
}

// builtinText makes a Text from built-in strings for the flow's locales,
// reporting a locale the built-ins lack.
func (p *parser) builtinText(def map[string]string, what string, at *yaml.Node) Text {
	t := Text{Localized: map[string]*Template{}, Pos: posOf(at)}
	for _, l := range p.f.Locale.Supported {
		s, ok := def[l]
		if !ok {
			p.report(posOf(at), RuleMissingTranslation, "%s has no built-in text in %s: write one", what, l)
			continue
		}
		tpl, _ := ParseTemplate(s)
		tpl.Pos = posOf(at)
		t.Localized[l] = tpl
	}
	return t
}

// text decodes a localized text: a string for every locale, or a mapping
// from each supported locale to a string.
func (p *parser) text(n *yaml.Node, what string) Text {
	t := Text{Pos: posOf(n)}
	switch n.Kind {
	case yaml.ScalarNode:
		if s, ok := p.str(n, what); ok {
			t.Plain = p.template(n, s, what)
		}
	case yaml.MappingNode:
		o := p.object(n, what)
		t.Localized = map[string]*Template{}
		for _, l := range o.keysInOrder() {
			vn := o.vals[l]
			if !slices.Contains(p.f.Locale.Supported, l) {
				p.report(o.keyPos(l), RuleInvalidValue, "%s is written in %q, which is not a supported locale (%s)", what, l, strings.Join(p.f.Locale.Supported, ", "))
				continue
			}
			if s, ok := p.str(vn, what+" in "+l); ok {
				if tpl := p.template(vn, s, what); tpl != nil {
					t.Localized[l] = tpl
				}
			}
		}
		for _, l := range p.f.Locale.Supported {
			if _, ok := o.vals[l]; !ok {
				p.report(posOf(n), RuleMissingTranslation, "%s has no %s text", what, l)
			}
		}
	default:
		p.report(posOf(n), RuleInvalidValue, "%s must be a string or a mapping of locale to string, not %s", what, describe(n))
	}
	return t
}

// template parses the template in scalar n.
func (p *parser) template(n *yaml.Node, s, what string) *Template {
	at := p.scalarPos(n)
	tpl, err := ParseTemplate(s)
	if err != nil {
		te := err.(*TemplateError)
		p.report(at(te.Offset), RuleTemplateSyntax, "%s: %s", what, te.Reason)
		return nil
	}
	tpl.Pos, tpl.at = posOf(n), at
	return tpl
}

// bindings decodes a mapping of names to templates.
func (p *parser) bindings(n *yaml.Node, what string) []*Binding {
	o := p.object(n, what)
	if o == nil {
		return nil
	}
	var out []*Binding
	for _, k := range o.keysInOrder() {
		kn, vn := o.keys[k], o.vals[k]
		if !reBinding.MatchString(k) {
			p.report(posOf(kn), RuleInvalidValue, "name %q in %s is not valid: %s", k, what, ruleBinding)
			continue
		}
		if vn.Kind != yaml.ScalarNode || vn.ShortTag() == "!!null" {
			p.report(posOf(vn), RuleInvalidValue, "%s of %s must be a string, not %s", k, what, describe(vn))
			continue
		}
		// Numbers and booleans are accepted as their literal text.
		tpl := p.template(vn, vn.Value, k+" of "+what)
		if tpl == nil {
			continue
		}
		out = append(out, &Binding{Name: k, Value: tpl, Pos: posOf(kn)})
	}
	return out
}

func (p *parser) action(o *object) *Action {
	o.require("action")
	b := &Action{}
	if name, ok := o.name("action", reAction, ruleAction); ok {
		b.Name, b.NamePos = name, posOf(o.vals["action"])
	}
	if n, ok := o.vals["with"]; ok {
		b.With = p.bindings(n, "with of "+o.what)
	}
	if n, ok := o.vals["outputs"]; ok {
		b.Outputs = p.outputs(n, o.what)
	}
	b.Timeout = p.optDuration(o, "timeout", maxActionTimeout)
	b.Next = p.requiredTarget(o, "next")
	b.OnError = p.requiredTarget(o, "on_error")
	return b
}

func (p *parser) outputs(n *yaml.Node, step string) []*OutputMapping {
	o := p.object(n, "outputs of "+step)
	if o == nil {
		return nil
	}
	var out []*OutputMapping
	for _, v := range o.keysInOrder() {
		kn := o.keys[v]
		if !p.varName(kn, v) {
			continue
		}
		mo := p.object(o.vals[v], "output "+v+" of "+step, outputKeys...)
		if mo == nil {
			continue
		}
		m := &OutputMapping{Var: v, Pos: posOf(kn)}
		mo.require("from", "visibility")
		m.From, _ = mo.str("from")
		if vis, ok := mo.enum("visibility", string(VisibilityPublic), string(VisibilitySecret)); ok {
			m.Visibility = Visibility(vis)
		}
		if fs, ok := mo.str("filter"); ok {
			switch {
			case !Filter(fs).Valid():
				p.report(posOf(mo.vals["filter"]), RuleUnknownFilter, "filter %q does not exist; filters are %s", fs, filterNames())
			case m.Visibility == VisibilitySecret:
				p.report(posOf(mo.vals["filter"]), RuleInvalidValue, "a filtered output is public: drop the filter or set visibility: public")
			default:
				m.Filter = Filter(fs)
			}
		}
		if m.From == "" || m.Visibility == "" {
			continue
		}
		out = append(out, m)
	}
	return out
}

func filterNames() string {
	var s []string
	for _, f := range allFilters {
		s = append(s, string(f))
	}
	return strings.Join(s, ", ")
}

func (p *parser) switchStep(o *object) *Switch {
	o.require("cases")
	b := &Switch{}
	if items, ok := o.list("cases"); ok {
		for i, n := range items {
			co := p.object(n, fmt.Sprintf("case #%d of %s", i+1, o.what), caseKeys...)
			if co == nil {
				continue
			}
			co.require("when")
			c := &Case{Next: p.requiredTarget(co, "next")}
			if wn, ok := co.vals["when"]; ok {
				c.When = p.expr(wn, "when of "+co.what)
			}
			b.Cases = append(b.Cases, c)
		}
	}
	b.Default = p.requiredTarget(o, "default")
	return b
}

func (p *parser) set(o *object) *Set {
	o.require("set")
	b := &Set{Next: p.requiredTarget(o, "next")}
	n, ok := o.vals["set"]
	if !ok {
		return b
	}
	so := p.object(n, "set of "+o.what)
	if so == nil {
		return b
	}
	if len(so.vals) == 0 {
		p.report(posOf(n), RuleInvalidValue, "set of %s assigns nothing", o.what)
	}
	for _, v := range so.keysInOrder() {
		kn := so.keys[v]
		if !p.varName(kn, v) {
			continue
		}
		e := p.expr(so.vals[v], v+" in "+o.what)
		if e == nil {
			continue
		}
		b.Assign = append(b.Assign, &Assignment{Var: v, Value: e, Pos: posOf(kn)})
	}
	return b
}

// expr decodes a CEL expression. Plain numbers and booleans are accepted as
// expressions (set: {count: 0}).
func (p *parser) expr(n *yaml.Node, what string) *Expr {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" || n.Value == "" {
		p.report(posOf(n), RuleInvalidValue, "%s must be a CEL expression, not %s", what, describe(n))
		return nil
	}
	return &Expr{Source: n.Value, Pos: posOf(n), file: p.file, at: p.scalarPos(n)}
}

// endCommon decodes the keys every end step has.
func (p *parser) endCommon(o *object) (msg Text, outcome string, outputs []*Binding) {
	if n, ok := o.vals["message"]; ok {
		msg = p.text(n, "message of "+o.what)
	}
	if o.has("outcome") {
		outcome, _ = o.name("outcome", reOutcome, ruleOutcome)
	}
	if n, ok := o.vals["outputs"]; ok {
		outputs = p.bindings(n, "outputs of "+o.what)
	}
	return msg, outcome, outputs
}

func (p *parser) returnToAgent(o *object) *ReturnToAgent {
	o.require("summary")
	b := &ReturnToAgent{}
	if n, ok := o.vals["summary"]; ok {
		b.Summary = p.text(n, "summary of "+o.what)
	}
	b.Message, b.Outcome, b.Outputs = p.endCommon(o)
	return b
}

func (p *parser) transfer(o *object) *Transfer {
	b := &Transfer{}
	switch {
	case o.has("queue") && o.has("destination"):
		p.report(o.keyPos("destination"), RuleInvalidValue, "%s names both a queue and a destination; keep one", o.what)
	case !o.has("queue") && !o.has("destination"):
		p.report(posOf(o.node), RuleMissingField, "%s needs \"queue\" or \"destination\"", o.what)
	}
	if o.has("queue") {
		b.Queue, _ = o.str("queue")
	}
	if o.has("destination") {
		b.Destination, _ = o.str("destination")
	}
	if n, ok := o.vals["attributes"]; ok {
		b.Attributes = p.bindings(n, "attributes of "+o.what)
	}
	b.Message, b.Outcome, b.Outputs = p.endCommon(o)
	return b
}

func (p *parser) disconnect(o *object) *Disconnect {
	b := &Disconnect{}
	b.Message, b.Outcome, b.Outputs = p.endCommon(o)
	return b
}
