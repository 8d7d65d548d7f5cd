package flow

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseModel(t *testing.T) {
	f, ds := Parse("take-payment.yaml", mustRead(t, "../../examples/flows/take-payment.yaml"), Options{})
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	if f.ID != "take-payment" || f.Mode != ModeAgentReferred || !f.ReserveAgent || f.Timeout != 20*time.Minute {
		t.Errorf("header: %+v", f)
	}
	if f.Start.Step != "init" || f.OnAgentGone.Step != "agent_left" || f.Locale.Default != "en" {
		t.Errorf("entry points: start %q, on_agent_gone %q", f.Start.Step, f.OnAgentGone.Step)
	}
	if in := f.Input("currency"); in == nil || in.Default != "BRL" || in.Required {
		t.Errorf("input currency: %+v", in)
	}
	card := f.Step("card")
	c, ok := card.Body.(*Collect)
	if !ok || card.Kind() != KindCollect || c.Capture != CaptureLink || len(c.Fields) != 3 || c.Attempts != 3 || c.Timeout != 10*time.Minute {
		t.Fatalf("collect step: %+v", card.Body)
	}
	if c.Fields[0].Type != InputCardNumber || c.Fields[0].Label.For("pt-BR").Source != "Número do cartão" {
		t.Errorf("field defaults: %+v", c.Fields[0])
	}
	if got := c.Reprompt.For("es"); got == nil || !strings.Contains(got.Source, "inténtalo") {
		t.Errorf("built-in reprompt: %v", got)
	}
	if got := f.Step("confirm").Body.(*Confirm); got.YesLabel.For("pt-BR").Source != "Sim" || got.OnTimeout.Step != "not_confirmed" {
		t.Errorf("confirm defaults: %+v", got)
	}
	edges := card.Edges()
	if len(edges) != 3 || edges[2].Label != "on_timeout" || edges[2].Target.Step != "timed_out" {
		t.Errorf("edges: %+v", edges)
	}
	if !f.HasChannel(ChannelWhatsApp) || f.Step("nope") != nil {
		t.Error("channels or Step lookup")
	}
}

// TestParsePositions checks where diagnostics point inside scalars: plain,
// quoted and literal block templates, and CEL expressions.
func TestParsePositions(t *testing.T) {
	const src = `id: t
mode: self_service
inputs:
  name: {type: string}
steps:
  - id: a
    type: say
    text: Hello {{ nme }}
    next: b
  - id: b
    type: say
    text: "Hi {{ name | lst4 }}"
    next: c
  - id: c
    type: say
    text: |
      Line one
        indented {{ nmae }}
    next: d
  - id: d
    type: switch
    cases:
      - when: name == 1
        next: e
    default: e
  - id: e
    type: disconnect
`
	ds := LintFile("p.yaml", []byte(src), Options{})
	for _, want := range []string{
		"p.yaml:8:20: error undefined-variable",
		"p.yaml:12:18: error unknown-filter",
		"p.yaml:18:21: error undefined-variable",
		"p.yaml:23:20: error cel-type",
	} {
		if !strings.Contains(ds.String(), want) {
			t.Errorf("missing %q in:\n%s", want, ds)
		}
	}
}

func TestParseStructure(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // substrings of the text output
	}{
		{"not a mapping", "- a\n- b\n", []string{"1:1: error invalid-value: the flow must be a mapping, not a list"}},
		{"empty", "", []string{"1:1: error syntax: file is empty"}},
		{"comments only", "# nothing\n", []string{"error syntax: file is empty"}},
		{"missing keys", "description: x\n", []string{`needs "id"`, `needs "mode"`, `needs "steps"`}},
		{"merge key", "id: t\nmode: self_service\nsteps:\n  - <<: {id: a}\n    type: disconnect\n", []string{"4:5: error syntax: merge keys"}},
		{"step without id", "id: t\nmode: self_service\nsteps:\n  - type: disconnect\n", []string{`4:5: error missing-field: a step needs "id"`}},
		{"unknown type", "id: t\nmode: self_service\nsteps:\n  - id: a\n    type: sing\n    foo: 1\n", []string{"5:11: error invalid-value: type of step a must be one of"}},
		{"digits without n", "id: t\nmode: self_service\nsteps:\n  - id: a\n    type: collect\n    capture: link\n    fields: [{var: x, type: digits}]\n    prompt: p\n    next: a\n    on_failure: a\n", []string{"digits(n), not \"digits\""}},
		{"pattern", "id: t\nmode: self_service\nsteps:\n  - id: a\n    type: collect\n    capture: link\n    fields: [{var: x, type: pattern, pattern: '(', length: 3}]\n    prompt: p\n    next: a\n    on_failure: a\n", []string{"not a valid RE2 regular expression", "length does not apply to type pattern"}},
		{"chat with two fields", "id: t\nmode: self_service\nsteps:\n  - id: a\n    type: collect\n    capture: chat\n    fields: [{var: x, type: otp}, {var: y, type: otp}]\n    prompt: p\n    next: a\n    on_failure: a\n", []string{"asks for one field at a time"}},
		{"reserved name", "id: t\nmode: self_service\ninputs:\n  channel: {type: string}\n  in: {type: string}\nsteps:\n  - id: a\n    type: disconnect\n", []string{`"channel" is reserved`, `"in" is a reserved word`}},
		{"locale", "id: t\nmode: self_service\nlocale: {default: fr, supported: [en, pt_BR]}\nsteps:\n  - id: a\n    type: confirm\n    text: {en: x, de: y}\n    yes: a\n    no: a\n", []string{
			`"pt_BR" is not a language tag`, `default locale "fr" is not in supported`, `"de", which is not a supported locale`,
			"yes_label of step a has no built-in text in fr", "has no fr text"}},
		{"transfer", "id: t\nmode: self_service\nsteps:\n  - id: a\n    type: transfer\n", []string{`needs "queue" or "destination"`}},
		{"both", "id: t\nmode: self_service\nsteps:\n  - id: a\n    type: transfer\n    queue: q\n    destination: d\n", []string{"names both a queue and a destination"}},
		{"output filter", "id: t\nmode: self_service\nsteps:\n  - id: a\n    type: action\n    action: x\n    outputs: {v: {from: y, visibility: secret, filter: last4}, w: {from: z, visibility: public, filter: up}}\n    next: a\n    on_error: a\n", []string{"a filtered output is public", `filter "up" does not exist`}},
		{"duplicate key", "id: t\nid: u\nmode: self_service\nsteps:\n  - id: a\n    type: disconnect\n", []string{`has the key "id" twice`}},
		{"types", "id: 7\nmode: self_service\nreserve_agent: yes\nsteps:\n  - id: a\n    type: collect\n    capture: link\n    fields: [{var: x, type: otp, length: 99}]\n    prompt: {en: [1]}\n    attempts: two\n    next: a\n    on_failure: a\n", []string{
			"id of the flow must be a string, not an integer", "must be true or false, not a string", "length of field x must be between 4 and 10",
			"prompt of step a in en must be a string, not a list", "attempts of step a must be an integer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ds := Parse("s.yaml", []byte(tt.src), Options{})
			out := ds.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in:\n%s", w, out)
				}
			}
			for _, d := range ds {
				if d.Line <= 0 {
					t.Errorf("no position: %s", d)
				}
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	big := strings.Repeat("#", MaxFileSize+1)
	if _, ds := Parse("big.yaml", []byte(big), Options{}); !ds.Has(RuleSyntax) {
		t.Errorf("oversized file: %s", ds)
	}
	deep := "id: t\nmode: self_service\nsteps: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n"
	if _, ds := Parse("deep.yaml", []byte(deep), Options{}); !strings.Contains(ds.String(), "nesting deeper") {
		t.Errorf("deep nesting: %s", ds)
	}
	var b strings.Builder
	b.WriteString("id: t\nmode: self_service\nsteps:\n")
	for i := range maxSteps + 1 {
		b.WriteString("  - {id: s" + strconv.Itoa(i) + ", type: disconnect}\n")
	}
	if _, ds := Parse("many.yaml", []byte(b.String()), Options{}); !strings.Contains(ds.String(), "at most 500 steps") {
		t.Errorf("too many steps: %s", ds)
	}
	if _, ds := Parse("bin.yaml", []byte("id: \xff\n"), Options{}); !strings.Contains(ds.String(), "not valid UTF-8") {
		t.Errorf("invalid UTF-8: %s", ds)
	}
}
