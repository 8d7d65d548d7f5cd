package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, nil)
	return out.String(), errb.String(), code
}

func TestVersion(t *testing.T) {
	out, _, code := runCLI(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "secureflow ") {
		t.Fatalf("version: %q, exit %d", out, code)
	}
}

func TestDetectCommand(t *testing.T) {
	in := "my card is 4111 1111 1111 1111 ok\nnothing here, order 12345\nmeu cpf é 529.982.247-25\n"
	out, errOut, code := runCLI(t, in, "detect")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want one per input line:\n%s", len(lines), out)
	}
	var first struct {
		Entities []struct {
			Type       string
			Start, End int
		}
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if len(first.Entities) != 1 || first.Entities[0].Type != "CREDIT_CARD" || first.Entities[0].Start != 11 || first.Entities[0].End != 30 {
		t.Fatalf("first line: %s", lines[0])
	}
	if lines[1] != `{"entities":[]}` {
		t.Fatalf("clean line: %s", lines[1])
	}
	if strings.Contains(out, "4111") || strings.Contains(out, "529.982") {
		t.Fatal("detect printed matched text")
	}
	red, _, code := runCLI(t, in, "detect", "--redact")
	if code != 0 || strings.Contains(red, "4111 1111") || !strings.Contains(red, "[card ••••1111]") || !strings.Contains(red, "order 12345") {
		t.Fatalf("redact: %q (exit %d)", red, code)
	}
	if _, errOut, code := runCLI(t, "\xff\xfe\n", "detect"); code == 0 || !strings.Contains(errOut, "line 1") {
		t.Fatalf("invalid UTF-8: exit %d, %q", code, errOut)
	}
}

func TestFlowsLintCommand(t *testing.T) {
	out, errOut, code := runCLI(t, "", "flows", "lint", "--actions", "../../examples/actions.yaml", "../../examples/flows")
	if code != 0 {
		t.Fatalf("examples do not lint clean (exit %d):\n%s%s", code, out, errOut)
	}
	out, _, code = runCLI(t, "", "flows", "lint", "--json", "--actions", "../../examples/actions.yaml", "../../internal/flow/testdata/lint/agent-gone-missing.yaml")
	if code != 1 {
		t.Fatalf("a failing flow exits %d, want 1:\n%s", code, out)
	}
	var ds []map[string]any
	if err := json.Unmarshal([]byte(out), &ds); err != nil || len(ds) == 0 {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if ds[0]["file"] == nil || ds[0]["line"] == nil || ds[0]["rule"] == nil {
		t.Fatalf("diagnostic lacks file, line or rule: %v", ds[0])
	}
	if _, _, code := runCLI(t, "", "flows", "lint", "no/such/dir"); code != 2 {
		t.Fatalf("missing path exits %d, want 2", code)
	}
}

func TestServeReportsEveryConfigProblem(t *testing.T) {
	_, errOut, code := runCLI(t, "", "serve", "--config", "../../internal/config/testdata/broken.yaml")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"server.addr", "store.driver", "genesys.webhook_secret", "relay.workers", "log.level"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the error does not name %s:\n%s", want, errOut)
		}
	}
}
