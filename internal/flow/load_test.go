package flow

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadCompilesExpressions(t *testing.T) {
	src, err := os.ReadFile("testdata/clean/reservation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load("reservation.yaml", src, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	init := f.Step("init").Body.(*Set)
	got, err := init.Apply(map[string]any{"vip": true, "tries_allowed": int64(3)})
	if err != nil {
		t.Fatal(err)
	}
	if got["tries"] != int64(0) || got["limit"] != int64(6) {
		t.Errorf("Apply = %v; want tries 0, limit 6", got)
	}
	verify := f.Step("verify").Body.(*Switch)
	for _, tt := range []struct {
		code    string
		present bool
		want    string
	}{{"123456", true, "back"}, {"123456", false, "count"}, {"000000", true, "count"}} {
		next, err := verify.Choose(map[string]any{"code": tt.code, "agent_present": tt.present})
		if err != nil || next.Step != tt.want {
			t.Errorf("Choose(%s, %v) = %v, %v; want %s", tt.code, tt.present, next.Step, err, tt.want)
		}
	}
	// A variable missing from the activation fails without saying more
	// than where the expression is.
	_, err = verify.Choose(map[string]any{})
	var ee *EvalError
	if !errors.Is(err, ErrEval) || !errors.As(err, &ee) || ee.Pos.Line == 0 || ee.File != "reservation.yaml" {
		t.Errorf("Choose without variables: %v", err)
	}
	if len(f.Warnings()) != 0 {
		t.Errorf("warnings: %v", f.Warnings())
	}
	if !strings.HasPrefix(f.Digest, "sha256:") || len(f.Digest) != 7+64 || string(f.Source()) != string(src) {
		t.Errorf("Digest %q or Source not kept", f.Digest)
	}
}

// TestEvalErrorHidesValues: CEL's own messages quote values ("could not
// convert string '4111...' to int"); the error of Eval must not.
func TestEvalErrorHidesValues(t *testing.T) {
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
    next: conv
    on_failure: fail
  - id: conv
    type: set
    set: {n: int(card) + 1}
    next: bye
  - id: bye
    type: disconnect
    message: "{{ card | last4 }} {{ n | mask }}"
  - id: fail
    type: disconnect
`
	f, err := Load("t.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Step("conv").Body.(*Set).Apply(map[string]any{"card": "4111x111111111111"})
	if !errors.Is(err, ErrEval) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "4111") {
		t.Errorf("error leaks the value: %v", err)
	}
}

func TestLoadRejectsInvalidFlows(t *testing.T) {
	src, err := os.ReadFile("testdata/lint/taint-say.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load("taint-say.yaml", src, testOptions())
	var inv *InvalidFlowError
	if f != nil || !errors.Is(err, ErrInvalidFlow) || !errors.As(err, &inv) || !inv.Diagnostics.Has(RuleTaint) {
		t.Fatalf("Load = %v, %v; want an InvalidFlowError with a taint diagnostic", f, err)
	}
	if !strings.Contains(err.Error(), "taint-say.yaml:") {
		t.Errorf("error message %q does not locate the finding", err)
	}
	// A parsed-only flow's expressions are not runnable.
	g, ds := Parse("reservation.yaml", mustRead(t, "testdata/clean/reservation.yaml"), Options{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	if _, err := g.Step("verify").Body.(*Switch).Choose(nil); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("Choose on a parsed flow: %v", err)
	}
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLintPaths(t *testing.T) {
	good := mustRead(t, "testdata/clean/reservation.yaml")
	bad := mustRead(t, "testdata/lint/taint-say.yaml")
	fsys := fstest.MapFS{
		"flows/a.yaml":         {Data: good},
		"flows/sub/b.yml":      {Data: []byte(strings.Replace(string(good), "id: reservation", "id: other", 1))},
		"flows/sub/copy.yaml":  {Data: good}, // same flow id as a.yaml
		"flows/notes.txt":      {Data: []byte("not a flow")},
		"flows/.hidden/x.yaml": {Data: bad},
		"bad.yaml":             {Data: bad},
		"warn.yaml":            {Data: mustRead(t, "testdata/lint/unreachable.yaml")},
	}
	ds := LintPaths(fsys, []string{"./flows"}, testOptions())
	if len(ds) != 1 || ds[0].Rule != RuleDuplicateID || ds[0].File != "flows/sub/copy.yaml" || ds.ExitCode() != 1 {
		t.Errorf("directory: want one duplicate flow id in flows/sub/copy.yaml, got:\n%s", ds)
	}
	ds = LintPaths(fsys, []string{"flows/a.yaml", "flows/a.yaml", "flows/notes.txt"}, testOptions())
	if !ds.Has(RuleInvalidValue) || ds.Has(RuleDuplicateID) || len(ds) != 1 {
		t.Errorf("files named twice are linted once; a .txt named explicitly is linted:\n%s", ds)
	}
	ds = LintPaths(fsys, []string{"warn.yaml"}, testOptions())
	if ds.ExitCode() != 0 || ds.Count(SeverityWarning) != 1 {
		t.Errorf("warnings alone: exit %d\n%s", ds.ExitCode(), ds)
	}
	ds = LintPaths(fsys, []string{"bad.yaml", "missing.yaml", "../up.yaml"}, testOptions())
	if ds.ExitCode() != 2 || !ds.Has(RuleTaint) {
		t.Errorf("want exit 2 with the taint finding kept:\n%s", ds)
	}
	var io []string
	for _, d := range ds {
		if d.Rule == RuleIO {
			io = append(io, d.String())
		}
	}
	if len(io) != 2 || !strings.Contains(io[1], "missing.yaml: error io: no such file or directory") {
		t.Errorf("io diagnostics: %q", io)
	}
	flows, ds := LoadPaths(fsys, []string{"flows/a.yaml", "flows/sub/b.yml"}, testOptions())
	if len(flows) != 2 || len(ds) != 0 || flows[0].ID != "reservation" || flows[1].ID != "other" {
		t.Errorf("LoadPaths: %d flows\n%s", len(flows), ds)
	}
	if flows, _ := LoadPaths(fsys, []string{"flows"}, testOptions()); flows != nil {
		t.Errorf("LoadPaths loaded flows despite an error")
	}
}

func TestParseCatalog(t *testing.T) {
	cat := testCatalog()
	charge := cat["payments.charge"]
	if !charge.Inputs["card"].Secret || !charge.Inputs["card"].Required || charge.Outputs["pan"].Kind != InputCardNumber {
		t.Errorf("payments.charge decoded as %+v", charge)
	}
	_, ds := ParseCatalog("c.yaml", []byte(`
actions:
  a.b:
    inputs:
      x: {type: float, kind: cvv}
    outputs:
      y: {required: true, kind: card_number}
    extra: 1
  "bad name": {}
`))
	for _, want := range []string{
		"c.yaml:5:17: error invalid-value",
		"c.yaml:5:24: error invalid-value: kind applies to outputs only",
		"c.yaml:7:11: error invalid-value: required applies to inputs only",
		"c.yaml:7:27: error invalid-value: kind applies to secret outputs only",
		"c.yaml:8:5: error unknown-field",
		"c.yaml:9:3: error invalid-value",
	} {
		if !strings.Contains(ds.String(), want) {
			t.Errorf("catalog diagnostics lack %q:\n%s", want, ds)
		}
	}
}

func TestDiagnosticsHelpers(t *testing.T) {
	ds := Diagnostics{
		{File: "b.yaml", Line: 2, Column: 1, Severity: SeverityWarning, Rule: RuleUnreachable, Message: "w"},
		{File: "a.yaml", Line: 9, Column: 3, Severity: SeverityError, Rule: RuleTaint, Message: "line\nbreak"},
		{File: "a.yaml", Line: 9, Column: 3, Severity: SeverityError, Rule: RuleTaint, Message: "line\nbreak"},
		{File: "a.yaml", Severity: SeverityError, Rule: RuleIO, Message: "no such file or directory"},
	}
	ds.Sort()
	want := "a.yaml: error io: no such file or directory\n" +
		"a.yaml:9:3: error taint: line break\n" +
		"b.yaml:2:1: warning unreachable: w\n"
	if got := ds.String(); got != want {
		t.Errorf("sorted text:\n%s\nwant:\n%s", got, want)
	}
	if ds.Count(SeverityError) != 2 || !ds.HasErrors() || ds.ExitCode() != 2 {
		t.Errorf("counts: %d errors, exit %d", ds.Count(SeverityError), ds.ExitCode())
	}
	if err := ds.Err(); !errors.Is(err, ErrInvalidFlow) || !strings.Contains(err.Error(), "and 1 more errors") {
		t.Errorf("Err() = %v", err)
	}
	if err := (Diagnostics{ds[2]}).Err(); err != nil {
		t.Errorf("warnings alone: Err() = %v", err)
	}
	var s Severity
	if err := s.UnmarshalText([]byte("warning")); err != nil || s != SeverityWarning {
		t.Errorf("UnmarshalText: %v %v", s, err)
	}
	if _, err := Severity(7).MarshalText(); err == nil {
		t.Error("MarshalText accepted an invalid severity")
	}
}
