package flow

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Severity says whether a [Diagnostic] stops a flow from loading.
type Severity int

// Severities, most severe first.
const (
	// SeverityError marks a finding that keeps the flow from loading.
	SeverityError Severity = iota
	// SeverityWarning marks a finding worth fixing that does not keep the
	// flow from loading.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText implements [encoding.TextMarshaler].
func (s Severity) MarshalText() ([]byte, error) {
	switch s {
	case SeverityError, SeverityWarning:
		return []byte(s.String()), nil
	}
	return nil, fmt.Errorf("flow: invalid severity %d", int(s))
}

// UnmarshalText implements [encoding.TextUnmarshaler].
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = SeverityError
	case "warning":
		*s = SeverityWarning
	default:
		return fmt.Errorf("flow: invalid severity %q", b)
	}
	return nil
}

// Rule identifies what a [Diagnostic] checks. Rule identifiers are stable:
// tooling and documentation refer to them.
type Rule string

// Rules of the flow language. docs/flows.md describes each with an example;
// [Rules] lists them with their severity.
const (
	// RuleIO: a flow file could not be read.
	RuleIO Rule = "io"
	// RuleSyntax: the file is not well-formed YAML, holds more than one
	// document, or is too large.
	RuleSyntax Rule = "syntax"
	// RuleUnknownField: a mapping has a key the language does not define.
	RuleUnknownField Rule = "unknown-field"
	// RuleMissingField: a required key is absent.
	RuleMissingField Rule = "missing-field"
	// RuleInvalidValue: a value has the wrong YAML type or is out of range.
	RuleInvalidValue Rule = "invalid-value"
	// RuleDuplicateID: two steps share an id, or two flows share an id.
	RuleDuplicateID Rule = "duplicate-id"
	// RuleMissingTranslation: a text lacks one of the flow's locales.
	RuleMissingTranslation Rule = "missing-translation"
	// RuleSelfServiceReturn: a self-service flow can reach return_to_agent
	// (issue rule 1).
	RuleSelfServiceReturn Rule = "self-service-return"
	// RuleReserveNoReturn: a flow that reserves the agent has no path to
	// return_to_agent (issue rule 2).
	RuleReserveNoReturn Rule = "reserve-no-return"
	// RuleAgentGone: a flow that reserves the agent lacks on_agent_gone, or
	// its on_agent_gone path can reach return_to_agent (issue rule 2).
	RuleAgentGone Rule = "agent-gone"
	// RuleUnreservedReturn: an agent-referred flow without reservation can
	// reach return_to_agent (issue rule 3).
	RuleUnreservedReturn Rule = "unreserved-return"
	// RuleUnusedAgentGone: on_agent_gone is set on a flow that reserves no
	// agent (warning).
	RuleUnusedAgentGone Rule = "unused-agent-gone"
	// RuleDanglingTarget: a transition names a step that does not exist
	// (issue rule 4).
	RuleDanglingTarget Rule = "dangling-target"
	// RuleDeadEnd: no end step is reachable from a step (issue rule 4).
	RuleDeadEnd Rule = "dead-end"
	// RuleInputFreeCycle: a cycle of steps consumes no customer input
	// (issue rule 4).
	RuleInputFreeCycle Rule = "input-free-cycle"
	// RuleUnreachable: no entry point reaches a step (warning, issue rule 4).
	RuleUnreachable Rule = "unreachable"
	// RuleUndefinedVariable: a template or expression reads a variable that
	// is not defined, or not defined on every path to the step (issue rule 5).
	RuleUndefinedVariable Rule = "undefined-variable"
	// RuleCELSyntax: a CEL expression does not parse (issue rule 5).
	RuleCELSyntax Rule = "cel-syntax"
	// RuleCELType: a CEL expression has a type error, a switch condition is
	// not a bool, or a variable is given two types (issue rule 5).
	RuleCELType Rule = "cel-type"
	// RuleTemplateSyntax: a template does not parse.
	RuleTemplateSyntax Rule = "template-syntax"
	// RuleUnknownFilter: a template names a filter that does not exist.
	RuleUnknownFilter Rule = "unknown-filter"
	// RuleUnknownAction: an action step names an action the catalog lacks
	// (issue rule 5).
	RuleUnknownAction Rule = "unknown-action"
	// RuleUnknownOutput: an output mapping names an output the action does
	// not declare (issue rule 5).
	RuleUnknownOutput Rule = "unknown-output"
	// RuleActionInput: an action input is unknown, missing or of the wrong
	// type (issue rule 5).
	RuleActionInput Rule = "action-input"
	// RuleTaint: a secret reaches a message, summary, transfer attribute,
	// session output, public action output, log field, agent progress line
	// or non-secret action input without a masking filter (issue rule 6).
	RuleTaint Rule = "taint"
	// RuleUnsafeFilter: a masking filter is applied to a kind of secret it
	// would partly disclose (for example last4 on a password).
	RuleUnsafeFilter Rule = "unsafe-filter"
	// RuleUnusedSecret: a collected secret is never used (warning; data
	// minimisation under PCI DSS and LGPD).
	RuleUnusedSecret Rule = "unused-secret"
	// RuleWhatsAppPolicy: on a WhatsApp-enabled flow, a card number, card
	// security code, IBAN, CPF, CNPJ or SSN is captured other than by secure
	// link (issue rule 7).
	RuleWhatsAppPolicy Rule = "whatsapp-policy"
	// RuleCaptureChannel: a capture mode cannot work on one of the flow's
	// channels (whatsapp_flow outside WhatsApp).
	RuleCaptureChannel Rule = "capture-channel"
)

// RuleInfo describes one [Rule].
type RuleInfo struct {
	Rule     Rule
	Severity Severity
	Summary  string
}

// rules is the table behind [Rules], in documentation order.
var rules = [...]RuleInfo{
	{RuleIO, SeverityError, "a flow file could not be read"},
	{RuleSyntax, SeverityError, "the file is not one well-formed YAML document of at most 1 MiB"},
	{RuleUnknownField, SeverityError, "a key the language does not define"},
	{RuleMissingField, SeverityError, "a required key is absent"},
	{RuleInvalidValue, SeverityError, "a value has the wrong type or is out of range"},
	{RuleDuplicateID, SeverityError, "two steps, variables or flows share an id"},
	{RuleMissingTranslation, SeverityError, "a text lacks one of the flow's locales"},
	{RuleSelfServiceReturn, SeverityError, "a self-service flow can reach return_to_agent"},
	{RuleReserveNoReturn, SeverityError, "a flow that reserves the agent never returns to it"},
	{RuleAgentGone, SeverityError, "on_agent_gone is missing or can reach return_to_agent"},
	{RuleUnreservedReturn, SeverityError, "an agent-referred flow without reservation can reach return_to_agent"},
	{RuleUnusedAgentGone, SeverityWarning, "on_agent_gone on a flow that reserves no agent"},
	{RuleDanglingTarget, SeverityError, "a transition names a step that does not exist"},
	{RuleDeadEnd, SeverityError, "no end is reachable from a step"},
	{RuleInputFreeCycle, SeverityError, "a cycle of steps consumes no customer input"},
	{RuleUnreachable, SeverityWarning, "no entry point reaches a step"},
	{RuleUndefinedVariable, SeverityError, "a variable is not defined on every path to its use"},
	{RuleCELSyntax, SeverityError, "a CEL expression does not parse"},
	{RuleCELType, SeverityError, "a CEL expression or variable has the wrong type"},
	{RuleTemplateSyntax, SeverityError, "a template does not parse"},
	{RuleUnknownFilter, SeverityError, "a template names an unknown filter"},
	{RuleUnknownAction, SeverityError, "an action step names an action the catalog lacks"},
	{RuleUnknownOutput, SeverityError, "an output mapping names an output the action lacks"},
	{RuleActionInput, SeverityError, "an action input is unknown, missing or of the wrong type"},
	{RuleTaint, SeverityError, "a secret reaches a sink without a masking filter"},
	{RuleUnsafeFilter, SeverityError, "a filter would disclose part of this kind of secret"},
	{RuleUnusedSecret, SeverityWarning, "a collected secret is never used"},
	{RuleWhatsAppPolicy, SeverityError, "WhatsApp policy: cards, bank accounts and national ids only by secure link"},
	{RuleCaptureChannel, SeverityError, "a capture mode one of the flow's channels cannot provide"},
}

// Rules returns every rule of the language with its severity and a
// one-line summary, in documentation order.
func Rules() []RuleInfo { return slices.Clone(rules[:]) }

// severityOf returns the severity of rule r.
func severityOf(r Rule) Severity {
	for _, ri := range rules {
		if ri.Rule == r {
			return ri.Severity
		}
	}
	return SeverityError
}

// Diagnostic is one finding about a flow file. Message is one line and never
// contains a value a customer typed: the linter sees only flow definitions.
type Diagnostic struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	Severity Severity `json:"severity"`
	Rule     Rule     `json:"rule"`
	Message  string   `json:"message"`
	// Path is, for findings about paths through the flow, the sequence of
	// step ids that demonstrates the finding.
	Path []string `json:"path,omitempty"`
}

// String formats d as "file:line:col: severity rule: message". An unknown
// line or column (0) is left out.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(d.Line))
		if d.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(d.Column))
		}
	}
	b.WriteString(": ")
	b.WriteString(d.Severity.String())
	b.WriteByte(' ')
	b.WriteString(string(d.Rule))
	b.WriteString(": ")
	b.WriteString(oneLine(d.Message))
	return b.String()
}

// oneLine replaces line breaks so that a message stays on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)), " ")
}

// Diagnostics is a list of findings. The zero value is an empty list.
type Diagnostics []Diagnostic

// Sort orders ds by file, line, column, severity, rule and message, and
// removes exact duplicates.
func (ds *Diagnostics) Sort() {
	slices.SortStableFunc(*ds, compareDiagnostics)
	*ds = slices.CompactFunc(*ds, func(a, b Diagnostic) bool {
		return compareDiagnostics(a, b) == 0 && slices.Equal(a.Path, b.Path)
	})
}

func compareDiagnostics(a, b Diagnostic) int {
	return cmp.Or(
		strings.Compare(a.File, b.File),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Column, b.Column),
		cmp.Compare(a.Severity, b.Severity),
		strings.Compare(string(a.Rule), string(b.Rule)),
		strings.Compare(a.Message, b.Message),
	)
}

// HasErrors reports whether ds holds at least one error.
func (ds Diagnostics) HasErrors() bool { return ds.Count(SeverityError) > 0 }

// Count returns how many diagnostics of severity s ds holds.
func (ds Diagnostics) Count(s Severity) int {
	n := 0
	for _, d := range ds {
		if d.Severity == s {
			n++
		}
	}
	return n
}

// Has reports whether ds holds a diagnostic of rule r.
func (ds Diagnostics) Has(r Rule) bool {
	return slices.ContainsFunc(ds, func(d Diagnostic) bool { return d.Rule == r })
}

// ExitCode is the conventional exit status of a lint command that found ds:
// 2 if a file could not be read ([RuleIO]), 1 if there is an error, 0
// otherwise (warnings alone do not fail).
func (ds Diagnostics) ExitCode() int {
	switch {
	case ds.Has(RuleIO):
		return 2
	case ds.HasErrors():
		return 1
	}
	return 0
}

// Err returns nil if ds holds no error, and otherwise an [*InvalidFlowError]
// carrying ds, which matches [ErrInvalidFlow] under [errors.Is].
func (ds Diagnostics) Err() error {
	if !ds.HasErrors() {
		return nil
	}
	return &InvalidFlowError{Diagnostics: slices.Clone(ds)}
}

// String formats ds as text, one diagnostic a line (see [Diagnostics.WriteText]).
func (ds Diagnostics) String() string {
	var b bytes.Buffer
	_ = ds.WriteText(&b)
	return b.String()
}

// WriteText writes ds to w, one "file:line:col: severity rule: message" line
// each. Messages of path findings already name the path.
func (ds Diagnostics) WriteText(w io.Writer) error {
	var b bytes.Buffer
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteJSON writes ds to w as a JSON array of objects with the keys file,
// line, column, severity, rule, message and (when set) path, followed by a
// newline. An empty ds is written as [].
func (ds Diagnostics) WriteJSON(w io.Writer) error {
	if ds == nil {
		ds = Diagnostics{}
	}
	b, err := json.MarshalIndent(ds, "", "  ")
	if err != nil {
		return fmt.Errorf("flow: encode diagnostics: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}
