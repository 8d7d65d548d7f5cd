package httpapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestOpenAPI keeps docs/openapi.yaml in step with the handler: every route
// documented with its scope, every $ref resolving, the session schema equal
// to what the handler writes, every problem code listed, and the request
// examples accepted by the handler.
func TestOpenAPI(t *testing.T) {
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	// A comma inside an unquoted flow-mapping value silently makes a key
	// with a null value; nothing in this document is legitimately null.
	walk(doc, "", func(path string, v any) {
		if v == nil && !strings.HasSuffix(path, "/ended_at") {
			t.Errorf("null at %s (unquoted comma in a flow mapping?)", path)
		}
		if m, ok := v.(map[string]any); ok {
			if ref, ok := m["$ref"].(string); ok && lookup(doc, ref) == nil {
				t.Errorf("%s: $ref %s does not resolve", path, ref)
			}
		}
	})
	paths := lookup(doc, "#/paths").(map[string]any)
	for _, p := range []string{"/webhooks/whatsapp", "/webhooks/genesys", "/healthz", "/readyz", "/metrics"} {
		if paths[p] == nil {
			t.Errorf("existing path %s lost", p)
		}
	}
	if lookup(doc, "#/components/securitySchemes/apiKey/scheme") != "bearer" {
		t.Error("no bearer security scheme apiKey")
	}

	env := newEnv(t)
	for _, rt := range env.h.routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		op, _ := lookup(doc, "#/paths/"+escapePointer(path)+"/"+strings.ToLower(method)).(map[string]any)
		if op == nil {
			t.Errorf("%s is not documented", rt.pattern)
			continue
		}
		sec := fmt.Sprint(op["security"])
		if want := fmt.Sprintf("[map[apiKey:[%s]]]", rt.scope); sec != want {
			t.Errorf("%s security = %s, want %s", rt.pattern, sec, want)
		}
		// Every request example is accepted.
		examples, _ := lookup(doc, "#/paths/"+escapePointer(path)+"/"+strings.ToLower(method)+"/requestBody/content/application~1json/examples").(map[string]any)
		for name, ex := range examples {
			body, _ := json.Marshal(ex.(map[string]any)["value"])
			p := strings.NewReplacer("{id}", "1734d888-3c0e-47bc-bacb-e9996a16b682", "{name}", "payments.refund").Replace(path)
			rec := env.do(t, call{method: method, path: p, body: string(body), key: env.all})
			if rec.Code/100 != 2 {
				t.Errorf("%s example %s: status %d: %s", rt.pattern, name, rec.Code, rec.Body)
			}
		}
	}

	// The session schema is what the handler writes.
	got, _ := json.Marshal(toSessionBody(Session{}))
	var written map[string]any
	_ = json.Unmarshal(got, &written)
	req := lookup(doc, "#/components/schemas/SecureSession/required").([]any)
	var required []string
	for _, r := range req {
		required = append(required, r.(string))
	}
	if w := slices.Sorted(maps.Keys(written)); !slices.Equal(w, slices.Sorted(slices.Values(required))) {
		t.Errorf("SecureSession.required %v, handler writes %v", required, w)
	}
	props := lookup(doc, "#/components/schemas/StartSecureSession/properties").(map[string]any)
	for _, f := range []string{"flow", "mode", "conversation", "genesys_conversation_id", "inputs", "locale"} {
		if props[f] == nil {
			t.Errorf("StartSecureSession lacks %s", f)
		}
	}

	// Every problem code the handler can send is in the enum.
	enum := fmt.Sprint(lookup(doc, "#/components/schemas/Problem/properties/code/enum"))
	codes := []string{codeUnauthorized, codeForbidden, codeRouteNotFound, codeMethodNotAllowed, codeMalformed, codeTooLarge, codeMediaType, codeInternal}
	for _, row := range errorTable {
		codes = append(codes, row.code)
	}
	for _, c := range codes {
		if !strings.Contains(" "+strings.Trim(enum, "[]")+" ", " "+c+" ") {
			t.Errorf("problem code %s not in the Problem.code enum %s", c, enum)
		}
	}
}

func walk(v any, path string, fn func(string, any)) {
	fn(path, v)
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			walk(c, path+"/"+k, fn)
		}
	case []any:
		for i, c := range v {
			walk(c, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

// lookup resolves a local JSON pointer ("#/a/b") in doc, or returns nil.
func lookup(doc map[string]any, ref string) any {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = doc
	for _, part := range strings.Split(rest, "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func escapePointer(s string) string { return strings.NewReplacer("~", "~0", "/", "~1").Replace(s) }
