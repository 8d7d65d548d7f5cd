package flow

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/lint")

// testCatalog is the action catalog of testdata/catalog.yaml.
var testCatalog = sync.OnceValue(func() map[string]ActionSpec {
	src, err := os.ReadFile("testdata/catalog.yaml")
	if err != nil {
		panic(err)
	}
	cat, ds := ParseCatalog("testdata/catalog.yaml", src)
	if len(ds) > 0 {
		panic("testdata/catalog.yaml: " + ds.String())
	}
	return cat
})

func testOptions() Options { return Options{Actions: testCatalog()} }

var reExpect = regexp.MustCompile(`(?m)^# expect: ([a-z-]+) (\d+)$`)

// expectation is one "# expect: rule line" comment of a testdata flow.
type expectation struct {
	rule Rule
	line int
}

func expectations(t *testing.T, src []byte) []expectation {
	t.Helper()
	var out []expectation
	for _, m := range reExpect.FindAllSubmatch(src, -1) {
		line, _ := strconv.Atoi(string(m[2]))
		out = append(out, expectation{Rule(m[1]), line})
	}
	if len(out) == 0 {
		t.Fatal("no # expect: comment")
	}
	return out
}

func sortExpectations(es []expectation) {
	slices.SortFunc(es, func(a, b expectation) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return strings.Compare(string(a.rule), string(b.rule))
	})
}

// TestLintTestdata lints every flow of testdata/lint, each written to break
// one rule (or one variant of it). The rule ids and lines found must be
// exactly those its "# expect:" comments list, and the text output must
// match its golden file (go test -update rewrites them).
func TestLintTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/lint/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	covered := map[Rule]bool{RuleIO: true} // RuleIO: TestLintPaths
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := expectations(t, src)
			ds := LintFile(name, src, testOptions())
			var got []expectation
			for _, d := range ds {
				got = append(got, expectation{d.Rule, d.Line})
				covered[d.Rule] = true
				if d.Line <= 0 || d.Column <= 0 {
					t.Errorf("diagnostic without a position: %s", d)
				}
				if d.Severity != severityOf(d.Rule) {
					t.Errorf("%s: severity %s, the rule table says %s", d, d.Severity, severityOf(d.Rule))
				}
			}
			sortExpectations(got)
			sortExpectations(want)
			if !slices.Equal(got, want) {
				t.Errorf("diagnostics (rule, line):\n got %v\nwant %v\n%s", got, want, ds)
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			text := ds.String()
			if *update {
				if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantText, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if text != string(wantText) {
				t.Errorf("text output differs from %s:\n got:\n%s\nwant:\n%s", golden, text, wantText)
			}
		})
	}
	for _, ri := range Rules() {
		if !covered[ri.Rule] {
			t.Errorf("rule %s has no testdata flow that triggers it", ri.Rule)
		}
	}
}

// TestCleanTestdata lints flows that exercise what the linter must accept:
// none may produce a diagnostic, and each must load.
func TestCleanTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/clean/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/clean flows")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if ds := LintFile(file, src, testOptions()); len(ds) > 0 {
				t.Errorf("unexpected diagnostics:\n%s", ds)
			}
			if _, err := Load(file, src, testOptions()); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

// TestExamplesLintClean lints the shipped example flows: no error, no
// warning, and each loads.
func TestExamplesLintClean(t *testing.T) {
	fsys := os.DirFS("../../examples")
	ds := LintPaths(fsys, []string{"flows"}, testOptions())
	if len(ds) > 0 {
		t.Fatalf("example flows have findings:\n%s", ds)
	}
	flows, ds := LoadPaths(fsys, []string{"flows"}, testOptions())
	if len(ds) > 0 || len(flows) < 3 {
		t.Fatalf("LoadPaths: %d flows, diagnostics:\n%s", len(flows), ds)
	}
	want := map[string]Mode{"take-payment": ModeAgentReferred, "verify-identity": ModeSelfService, "reset-password": ModeSelfService}
	for _, f := range flows {
		if m, ok := want[f.ID]; ok && f.Mode != m {
			t.Errorf("%s: mode %s, want %s", f.ID, f.Mode, m)
		}
		delete(want, f.ID)
		for _, l := range []string{"en", "pt-BR", "es"} {
			if !slices.Contains(f.Locale.Supported, l) {
				t.Errorf("%s does not speak %s", f.ID, l)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("missing example flows: %v", want)
	}
}

// TestDiagnosticsText pins the text and JSON formats on one flow with
// several findings.
func TestDiagnosticsFormats(t *testing.T) {
	src, err := os.ReadFile("testdata/lint/taint-set.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ds := LintFile("taint-set.yaml", src, testOptions())
	if len(ds) != 2 {
		t.Fatalf("got %d diagnostics, want 2:\n%s", len(ds), ds)
	}
	line := ds[0].String()
	if !regexp.MustCompile(`^taint-set\.yaml:\d+:\d+: error taint: .+ \(path ask → copy → show\): .+$`).MatchString(line) {
		t.Errorf("text format: %q", line)
	}
	var buf bytes.Buffer
	if err := ds.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	js := buf.String()
	for _, want := range []string{`"file": "taint-set.yaml"`, `"severity": "error"`, `"rule": "taint"`, `"path": [`, `"ask"`, `"line": `, `"column": `} {
		if !strings.Contains(js, want) {
			t.Errorf("JSON lacks %s:\n%s", want, js)
		}
	}
	buf.Reset()
	if err := Diagnostics(nil).WriteJSON(&buf); err != nil || buf.String() != "[]\n" {
		t.Errorf("empty JSON = %q, %v; want []", buf.String(), err)
	}
}

// TestTaintPaths checks the paths the taint rule reports on flows where the
// secret travels: through a loop, and copied twice by set.
func TestTaintPaths(t *testing.T) {
	const src = `
id: t
mode: self_service
channels: [open_messaging]
steps:
  - id: ask
    type: collect
    capture: link
    fields:
      - {var: card, type: card_number}
    prompt: "Card?"
    next: first
    on_failure: bye
  - id: first
    type: set
    set: {a: card}
    next: check
  - id: check
    type: confirm
    text: "Card {{ card | last4 }}?"
    yes: second
    no: ask
  - id: second
    type: set
    set: {b: a}
    next: show
  - id: show
    type: say
    text: "{{ b }}"
    next: bye
  - id: bye
    type: disconnect
`
	ds := LintFile("t.yaml", []byte(src), Options{})
	if len(ds) != 1 || ds[0].Rule != RuleTaint {
		t.Fatalf("want one taint error, got:\n%s", ds)
	}
	want := []string{"ask", "first", "check", "second", "show"}
	if !slices.Equal(ds[0].Path, want) {
		t.Errorf("path %v, want %v", ds[0].Path, want)
	}
	if !strings.Contains(ds[0].Message, "card_number collected at step ask") {
		t.Errorf("message does not name the origin: %s", ds[0].Message)
	}
}

// TestTaintKills checks that assigning a public value clears a secret, on
// one path only: the merge is still tainted.
func TestTaintKills(t *testing.T) {
	flow := func(then string) string {
		return fmt.Sprintf(`
id: t
mode: self_service
channels: [open_messaging]
steps:
  - id: ask
    type: collect
    capture: chat
    fields:
      - {var: code, type: otp}
    prompt: "Code?"
    next: copy
    on_failure: bye
  - id: copy
    type: set
    set: {x: code}
    next: branch
  - id: branch
    type: confirm
    text: "Continue?"
    yes: clear
    no: %s
  - id: clear
    type: set
    set: {x: '"none"'}
    next: show
  - id: show
    type: say
    text: "{{ x }}"
    next: bye
  - id: bye
    type: disconnect
`, then)
	}
	if ds := LintFile("t.yaml", []byte(flow("clear")), Options{}); len(ds) > 0 {
		t.Errorf("every path clears x, yet:\n%s", ds)
	}
	ds := LintFile("t.yaml", []byte(flow("show")), Options{})
	if len(ds) != 1 || ds[0].Rule != RuleTaint || !slices.Equal(ds[0].Path, []string{"ask", "copy", "branch", "show"}) {
		t.Errorf("want one taint error through branch → show, got:\n%s", ds)
	}
}

// TestRulesDocumented checks that docs/flows.md describes every rule.
func TestRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/flows.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, ri := range Rules() {
		if !bytes.Contains(doc, []byte("`"+string(ri.Rule)+"`")) {
			t.Errorf("docs/flows.md does not mention rule `%s`", ri.Rule)
		}
	}
	for _, f := range allFilters {
		if !bytes.Contains(doc, []byte("`"+string(f)+"`")) {
			t.Errorf("docs/flows.md does not mention filter `%s`", f)
		}
	}
	for tp := range inputTypes {
		if !bytes.Contains(doc, []byte("`"+string(tp))) {
			t.Errorf("docs/flows.md does not mention input type `%s`", tp)
		}
	}
}

// TestDocFirstFlow lints the first example of docs/flows.md and the
// mistakes its text says the linter catches.
func TestDocFirstFlow(t *testing.T) {
	doc := string(mustRead(t, "../../docs/flows.md"))
	_, after, _ := strings.Cut(doc, "## A first flow\n\n```yaml\n")
	src, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("no first flow in docs/flows.md")
	}
	if ds := LintFile("first.yaml", []byte(src), Options{}); len(ds) > 0 {
		t.Fatalf("the first flow of the docs has findings:\n%s", ds)
	}
	for _, tt := range []struct {
		old, new string
		rule     Rule
	}{
		{`summary: "The customer's card ends in {{ card | last4 }}."`, `summary: "Card {{ card }}"`, RuleTaint},
		{"on_agent_gone: to_queue", "", RuleAgentGone},
		{"mode: agent_referred          # an agent hands the conversation over\nreserve_agent: true", "mode: self_service\n#", RuleSelfServiceReturn},
		{"on_failure: no_card", "on_failure: back", RuleUndefinedVariable},
	} {
		bad := strings.Replace(src, tt.old, tt.new, 1)
		if bad == src {
			t.Fatalf("%q not in the first flow", tt.old)
		}
		if ds := LintFile("first.yaml", []byte(bad), Options{}); !ds.Has(tt.rule) {
			t.Errorf("%q → %q: want %s, got:\n%s", tt.old, tt.new, tt.rule, ds)
		}
	}
}

// TestUnsafeFilterThroughCopies checks that a secret copied around a loop
// keeps its type, so that filters its type forbids stay forbidden.
func TestUnsafeFilterThroughCopies(t *testing.T) {
	const src = `
id: t
mode: self_service
channels: [open_messaging]
steps:
  - id: ask
    type: collect
    capture: link
    fields:
      - {var: cvv, type: cvv}
    prompt: "Security code?"
    next: a
    on_failure: bye
  - id: a
    type: set
    set: {x: cvv}
    next: b
  - id: b
    type: confirm
    text: "{{ x | mask }}"
    yes: c
    no: bye
  - id: c
    type: set
    set: {y: x}
    next: d
  - id: d
    type: set
    set: {x: y}
    next: e
  - id: e
    type: confirm
    text: "{{ x | length }} {{ y | mask }}"
    yes: b
    no: bye
  - id: bye
    type: disconnect
`
	ds := LintFile("t.yaml", []byte(src), Options{})
	if len(ds) != 1 || ds[0].Rule != RuleUnsafeFilter || !strings.Contains(ds[0].Message, "cvv allows mask") {
		t.Errorf("want one unsafe-filter finding naming cvv, got:\n%s", ds)
	}
}
