package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/flows-lint")

// TestFlowsLintGolden runs `secureflow flows lint` in-process and compares
// its exit code, standard output and standard error with
// testdata/flows-lint/NAME.golden. Paths are relative to this package's
// directory, so that the findings name the same files on every machine.
// Run with -update to rewrite the golden files.
func TestFlowsLintGolden(t *testing.T) {
	const (
		lint    = "../../internal/flow/testdata/lint/"
		catalog = "../../examples/actions.yaml"
	)
	tests := []struct {
		name string
		args []string
	}{
		{"taint-say", []string{lint + "taint-say.yaml"}},
		{"agent-gone", []string{lint + "agent-gone-missing.yaml", lint + "agent-gone-return.yaml"}},
		{"whatsapp-policy", []string{lint + "whatsapp-policy.yaml"}},
		{"unknown-output", []string{"--actions", catalog, lint + "unknown-output.yaml"}},
		{"warnings-only", []string{lint + "unreachable.yaml", lint + "unused-secret.yaml"}},
		{"json", []string{"--json", lint + "undefined-variable.yaml"}},
		{"examples-clean", []string{"--actions", catalog, "../../examples/flows"}},
		{"missing-path", []string{"testdata/flows-lint/no-such-flow.yaml"}},
		{"bad-catalog", []string{"--actions", "testdata/flows-lint/bad-catalog.yaml", "../../examples/flows"}},
		{"missing-catalog", []string{"--actions", "testdata/flows-lint/no-such-catalog.yaml", "../../examples/flows"}},
		{"no-args", nil},
		{"whatsapp-flow-clean", []string{"--actions", catalog,
			"--whatsapp-flow", "reset-password-form/ask_password=../../integrations/whatsapp/flows/password-reset.json", "../../examples/flows"}},
		{"whatsapp-flow-bad", []string{"--actions", catalog,
			"--whatsapp-flow", "reset-password-form/ask_password=../../internal/waflows/testdata/bad_flow.json",
			"--whatsapp-flow", "reset-password-form/set_password=../../integrations/whatsapp/flows/password-reset.json", "../../examples/flows"}},
		{"whatsapp-flow-usage", []string{"--whatsapp-flow", "no-equals-sign", "../../examples/flows"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, "", append([]string{"flows", "lint"}, tt.args...)...)
			got := fmt.Sprintf("$ secureflow flows lint %s\n# exit %d\n# stdout\n%s# stderr\n%s",
				strings.Join(tt.args, " "), code, stdout, stderr)
			golden := filepath.Join("testdata", "flows-lint", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestFlowsLintGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("flows lint %s: output differs from %s (run with -update to accept it)\n--- got\n%s--- want\n%s",
					strings.Join(tt.args, " "), golden, got, want)
			}
		})
	}
}
