package flow

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// bigFlow generates a flow of n steps: collects, copies through set,
// switches with back edges, and messages reading masked secrets, so that
// every analysis has work on every step.
func bigFlow(n int) []byte {
	var b strings.Builder
	b.WriteString("id: big\nmode: self_service\nchannels: [open_messaging]\non_cancel: s0\nsteps:\n")
	for i := 0; i < n; i += 4 {
		fmt.Fprintf(&b, `  - id: s%d
    type: collect
    capture: chat
    fields: [{var: v%d, type: otp}]
    prompt: "Code?"
    next: s%d
    on_failure: end
`, i, i%40, i+1)
		fmt.Fprintf(&b, `  - id: s%d
    type: set
    set: {w%d: v%d, c%d: '"x"'}
    next: s%d
`, i+1, i%40, i%40, i%40, i+2)
		back := 0
		if i >= 8 {
			back = i - 8
		}
		fmt.Fprintf(&b, `  - id: s%d
    type: switch
    cases:
      - when: c%d == "x"
        next: s%d
    default: s%d
`, i+2, i%40, back, i+3)
		next := "end"
		if i+4 < n {
			next = fmt.Sprintf("s%d", i+4)
		}
		fmt.Fprintf(&b, `  - id: s%d
    type: say
    text: "{{ w%d | mask }} {{ c%d }}"
    next: %s
`, i+3, i%40, i%40, next)
	}
	b.WriteString("  - id: end\n    type: disconnect\n")
	return []byte(b.String())
}

// TestLintLargeFlowIsFast bounds the linter's time on the largest flow the
// language allows, so that a hostile or generated file cannot stall a load.
func TestLintLargeFlowIsFast(t *testing.T) {
	src := bigFlow(maxSteps - 4)
	start := time.Now()
	f, ds := Parse("big.yaml", src, Options{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	ds = Lint(f, Options{})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("linting %d steps took %s", len(f.Steps), d)
	}
	if ds.HasErrors() {
		t.Errorf("unexpected errors:\n%s", ds)
	}
}

func BenchmarkLintExamples(b *testing.B) {
	src := mustRead(b, "../../examples/flows/take-payment.yaml")
	opts := testOptions()
	for b.Loop() {
		if ds := LintFile("take-payment.yaml", src, opts); len(ds) > 0 {
			b.Fatal(ds)
		}
	}
}

func BenchmarkLintLarge(b *testing.B) {
	src := bigFlow(maxSteps - 4)
	for b.Loop() {
		LintFile("big.yaml", src, Options{})
	}
}
