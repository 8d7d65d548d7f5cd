package httpapi

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The Genesys Data Action exports shipped in integrations/genesys must call
// routes this handler serves, with bodies it accepts, and map fields its
// responses have (genesys.md §4.1, §4.2).

const integrationsDir = "../../integrations/genesys"

type dataAction struct {
	Name            string `json:"name"`
	Category        string `json:"category"`
	IntegrationType string `json:"integrationType"`
	ActionType      string `json:"actionType"`
	Secure          *bool  `json:"secure"`
	Config          struct {
		TimeoutSeconds int `json:"timeoutSeconds"`
		Request        struct {
			URL      string            `json:"requestUrlTemplate"`
			Type     string            `json:"requestType"`
			Headers  map[string]string `json:"headers"`
			Template string            `json:"requestTemplate"`
		} `json:"request"`
		Response struct {
			TranslationMap         map[string]string `json:"translationMap"`
			TranslationMapDefaults map[string]string `json:"translationMapDefaults"`
			SuccessTemplate        string            `json:"successTemplate"`
		} `json:"response"`
	} `json:"config"`
	Contract struct {
		Input struct {
			Schema jsonSchema `json:"inputSchema"`
		} `json:"input"`
		Output struct {
			Schema jsonSchema `json:"successSchema"`
		} `json:"output"`
	} `json:"contract"`
}

type jsonSchema struct {
	Type       string                `json:"type"`
	Required   []string              `json:"required"`
	Properties map[string]jsonSchema `json:"properties"`
}

var (
	// Velocity forms the exports may use (genesys.md §4.1): JSON-escaped
	// inputs (quiet or not), URL-escaped inputs, plain inputs.
	velJSON    = regexp.MustCompile(`\$!?esc\.jsonString\(\$!?\{input\.([A-Za-z0-9_]+)\}\)`)
	velURL     = regexp.MustCompile(`\$!?esc\.url\(\$!?\{input\.([A-Za-z0-9_]+)\}\)`)
	velPlain   = regexp.MustCompile(`\$!?\{input\.([A-Za-z0-9_]+)\}`)
	velOut     = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)
	jsonPathRE = regexp.MustCompile(`^\$\.([a-z_]+)(?:\.([a-z0-9_]+))?$`)
)

// sampleInputs has values for every input a shipped action declares; some
// need JSON escaping.
var sampleInputs = map[string]string{
	"flow": "take-payment", "customerId": "5511999990000", "conversationId": "1734d888-3c0e-47bc-bacb-e9996a16b682",
	"mode": "agent_referred", "locale": "pt-BR", "amount": "49.90", "currency": "BRL", "order_id": `A-1001 "rush" \ 2`,
	"account_id": "acc-7f3k2", "idempotencyKey": "conv-1:take-payment", "sessionId": "ss_42", "action": "payments.refund",
	"card": "tok_card_4242", "reference": "A-1001", "customer_id": "cus_9",
}

// render substitutes inputs into a Velocity template; absent inputs render
// as "" (the quiet forms) and count as a failure for the non-quiet forms.
func render(t *testing.T, tpl string, in map[string]string, escape func(string) string) string {
	t.Helper()
	sub := func(re *regexp.Regexp, enc func(string) string) {
		tpl = re.ReplaceAllStringFunc(tpl, func(m string) string {
			name := re.FindStringSubmatch(m)[1]
			v, ok := in[name]
			if !ok && !strings.HasPrefix(m, "$!") {
				t.Errorf("input %s is required by %q but was not given", name, m)
			}
			return enc(v)
		})
	}
	sub(velJSON, func(s string) string { b, _ := json.Marshal(s); return string(b[1 : len(b)-1]) })
	sub(velURL, url.PathEscape)
	sub(velPlain, escape)
	return tpl
}

func loadActions(t *testing.T) map[string]dataAction {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(integrationsDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no data actions in %s: %v", integrationsDir, err)
	}
	out := map[string]dataAction{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var a dataAction
		dec := json.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&a); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = a
	}
	return out
}

func TestGenesysDataActions(t *testing.T) {
	actions := loadActions(t)
	for _, want := range []string{"start-secure-session.json", "get-secure-session-result.json", "invoke-action-with-tokens.json"} {
		if _, ok := actions[want]; !ok {
			t.Errorf("missing %s", want)
		}
	}
	flowsText := readExampleFlows(t)
	for file, a := range actions {
		t.Run(file, func(t *testing.T) {
			// Export format, genesys.md §4.2; timeouts §4.3; secure §4.4.
			if a.Name == "" || a.Category != "secureflow" || a.IntegrationType != "custom-rest-actions" || a.ActionType != "custom" {
				t.Errorf("header fields: %q %q %q %q", a.Name, a.Category, a.IntegrationType, a.ActionType)
			}
			if a.Secure == nil {
				t.Error("secure flag missing: say it explicitly (docs/genesys.md explains the choice)")
			}
			if ts := a.Config.TimeoutSeconds; ts < 1 || ts > 60 {
				t.Errorf("timeoutSeconds %d outside 1-60", ts)
			}
			if got := a.Config.Request.Headers["Authorization"]; got != "Bearer ${credentials.apiKey}" {
				t.Errorf("Authorization header %q", got)
			}

			// Inputs: flat strings, every one used, every used one declared.
			in := a.Contract.Input.Schema
			used := map[string]bool{}
			all := a.Config.Request.URL + a.Config.Request.Template + strings.Join(slices.Collect(maps.Values(a.Config.Request.Headers)), " ")
			for _, m := range velPlain.FindAllStringSubmatch(all, -1) {
				used[m[1]] = true
			}
			for name, p := range in.Properties {
				if p.Type != "string" {
					t.Errorf("input %s is %q; keep contracts flat strings (§4.2)", name, p.Type)
				}
				if !used[name] && name != "rawRequest" {
					t.Errorf("input %s is declared but never sent", name)
				}
			}
			for name := range used {
				if _, ok := in.Properties[name]; !ok && name != "rawRequest" {
					t.Errorf("input %s is used but not in the contract", name)
				}
			}
			for _, r := range in.Required {
				if _, ok := in.Properties[r]; !ok {
					t.Errorf("required input %s not declared", r)
				}
			}

			// Two calls: every input given, and only the required ones.
			minimal := map[string]string{}
			for _, r := range in.Required {
				minimal[r] = sampleInputs[r]
			}
			for _, inputs := range []map[string]string{sampleInputs, minimal} {
				checkCall(t, a, inputs, flowsText)
			}
		})
	}
}

// checkCall renders a into a request, serves it and checks the outcome.
func checkCall(t *testing.T, a dataAction, inputs map[string]string, flowsText string) {
	t.Helper()
	env := newEnv(t)
	u, err := url.Parse(render(t, a.Config.Request.URL, inputs, url.PathEscape))
	if err != nil || u.Scheme != "https" || u.Host != "secureflow.example.com" {
		t.Fatalf("requestUrlTemplate %q: want https://secureflow.example.com/... (%v)", a.Config.Request.URL, err)
	}
	var body string
	if a.Config.Request.Template != "${input.rawRequest}" {
		body = render(t, a.Config.Request.Template, inputs, func(s string) string { return s })
		if strings.Contains(body, "$") {
			t.Fatalf("unrendered Velocity in %s", body)
		}
	}
	c := call{method: a.Config.Request.Type, path: u.EscapedPath(), body: body, key: env.all, header: map[string]string{}}
	for k, v := range a.Config.Request.Headers {
		if k != "Authorization" && k != "Content-Type" {
			c.header[k] = render(t, v, inputs, func(s string) string { return s })
		}
	}
	probe, _ := http.NewRequest(c.method, c.path, nil)
	if _, pattern := env.h.mux.Handler(probe); !slices.Contains(env.h.Patterns(), pattern) {
		t.Fatalf("%s %s matches no API route (got %q)", c.method, c.path, pattern)
	}
	rec := env.do(t, c)
	if rec.Code/100 != 2 {
		t.Fatalf("%s %s with %v: status %d: %s", c.method, c.path, inputs, rec.Code, rec.Body)
	}
	switch {
	case len(env.sessions.started) == 1:
		r := env.sessions.started[0]
		if r.Flow != inputs["flow"] || r.Conversation != inputs["customerId"] || r.GenesysConversationID != inputs["conversationId"] ||
			r.IdempotencyKey != inputs["idempotencyKey"] || r.Inputs["order_id"] != nilIfEmpty(inputs["order_id"]) {
			t.Errorf("StartRequest %+v from %v", r, inputs)
		}
	case len(env.actions.calls) == 1:
		c := env.actions.calls[0]
		if c.name != inputs["action"] || c.inputs["card"] != inputs["card"] || c.key != inputs["idempotencyKey"] {
			t.Errorf("invoke %+v from %v", c, inputs)
		}
		for k, v := range c.inputs {
			if v == "" {
				t.Errorf("empty input %s reached the action", k)
			}
		}
	case len(env.sessions.gets) == 1:
		if env.sessions.gets[0] != inputs["sessionId"] {
			t.Errorf("Get(%q)", env.sessions.gets[0])
		}
	default:
		t.Fatal("no implementation was called")
	}
	checkResponse(t, a, rec.Body.Bytes(), flowsText)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// checkResponse applies the translation map to a real response body and
// renders the success template.
func checkResponse(t *testing.T, a dataAction, body []byte, flowsText string) {
	t.Helper()
	resp := a.Config.Response
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("response: %v", err)
	}
	values := map[string]string{}
	for name, path := range resp.TranslationMap {
		m := jsonPathRE.FindStringSubmatch(path)
		if m == nil {
			t.Errorf("translationMap %s: unsupported JSONPath %q", name, path)
			continue
		}
		v, ok := doc[m[1]]
		if !ok {
			t.Errorf("translationMap %s: response has no field %q", name, m[1])
			continue
		}
		if m[2] != "" {
			if m[1] != "outputs" {
				t.Errorf("translationMap %s: only outputs are nested", name)
			}
			if !strings.Contains(flowsText, m[2]+":") {
				t.Errorf("translationMap %s: no example flow has an output %q", name, m[2])
			}
			v, ok = v.(map[string]any)[m[2]]
		}
		def, hasDef := resp.TranslationMapDefaults[name]
		if !ok {
			if !hasDef {
				t.Errorf("translationMap %s: absent here and no default", name)
			}
			v = json.RawMessage(def)
		}
		b, _ := json.Marshal(v)
		values[name] = string(b)
	}
	for name, def := range resp.TranslationMapDefaults {
		if _, ok := resp.TranslationMap[name]; !ok || !json.Valid([]byte(def)) {
			t.Errorf("translationMapDefaults %s: %q is not valid JSON for a mapped name", name, def)
		}
	}
	out := velOut.ReplaceAllStringFunc(resp.SuccessTemplate, func(m string) string {
		name := velOut.FindStringSubmatch(m)[1]
		v, ok := values[name]
		if !ok {
			t.Errorf("successTemplate uses %s, not in translationMap", name)
		}
		return v
	})
	var result map[string]any
	if err := json.Unmarshal([]byte(out), &result); err != nil {
		t.Fatalf("successTemplate renders invalid JSON %s: %v", out, err)
	}
	schema := a.Contract.Output.Schema
	if !slices.Equal(slices.Sorted(maps.Keys(result)), slices.Sorted(maps.Keys(schema.Properties))) {
		t.Errorf("success output %v does not match successSchema %v", slices.Sorted(maps.Keys(result)), slices.Sorted(maps.Keys(schema.Properties)))
	}
	for name, p := range schema.Properties {
		if _, isString := result[name].(string); p.Type != "string" || !isString {
			t.Errorf("output %s: schema %q, value %T; keep outputs flat strings", name, p.Type, result[name])
		}
	}
}

func readExampleFlows(t *testing.T) string {
	t.Helper()
	files, _ := filepath.Glob("../../examples/flows/*.yaml")
	var sb strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
	}
	if sb.Len() == 0 {
		t.Fatal("no example flows")
	}
	return sb.String()
}
