package flow

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The JSON Schema in schemas/flow.schema.json describes the language for
// editors and CI. These tests hold it to the parser: every flow the parser
// accepts, the schema accepts; every structural error the schema can
// express (unknown or missing fields, wrong types, values out of their
// set), the schema rejects too. What a schema cannot express (transitions,
// cross-field rules such as translations for each supported locale, ranges
// of durations) is the linter's alone.

const schemaPath = "../../schemas/flow.schema.json"

// schemaKeywords is the subset of JSON Schema 2020-12 the validator below
// implements; the schema may use no other keyword.
var schemaKeywords = []string{
	"$schema", "$id", "$defs", "$ref", "title", "description",
	"type", "enum", "const", "pattern", "minLength",
	"properties", "required", "additionalProperties", "propertyNames", "minProperties",
	"items", "minItems", "maxItems", "uniqueItems", "minimum", "maximum",
	"oneOf", "anyOf", "allOf", "not", "if", "then", "else",
}

type jsonSchema struct {
	root map[string]any
	re   map[string]*regexp.Regexp
}

func loadSchema(t *testing.T) *jsonSchema {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(mustRead(t, schemaPath), &root); err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	return &jsonSchema{root: root, re: map[string]*regexp.Regexp{}}
}

// keywords walks the schema and returns every keyword it uses.
func (js *jsonSchema) keywords() []string {
	seen := map[string]bool{}
	var walk func(s any, namesAreKeywords bool)
	walk = func(s any, namesAreKeywords bool) {
		switch s := s.(type) {
		case map[string]any:
			for k, v := range s {
				if namesAreKeywords {
					seen[k] = true
				}
				switch k {
				case "properties", "$defs":
					for _, sub := range v.(map[string]any) {
						walk(sub, true)
					}
				case "enum", "const", "required", "type":
				default:
					walk(v, true)
				}
			}
		case []any:
			for _, x := range s {
				walk(x, true)
			}
		}
	}
	walk(js.root, true)
	return slices.Sorted(maps.Keys(seen))
}

// validate returns the violations of instance x against schema s.
func (js *jsonSchema) validate(s any, x any, at string) []string {
	switch s := s.(type) {
	case bool:
		if !s {
			return []string{at + ": schema false"}
		}
		return nil
	case map[string]any:
		return js.validateObject(s, x, at)
	}
	return []string{at + ": bad schema"}
}

func (js *jsonSchema) validateObject(s map[string]any, x any, at string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		errs = append(errs, js.validate(js.root["$defs"].(map[string]any)[name], x, at)...)
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, e := range t {
				types = append(types, e.(string))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return hasType(x, t) }) {
			fail("not of type %v", types)
			return errs
		}
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(v any) bool { return jsonEqual(v, x) }) {
		fail("%v not in enum", x)
	}
	if c, ok := s["const"]; ok && !jsonEqual(c, x) {
		fail("%v is not %v", x, c)
	}
	if str, ok := x.(string); ok {
		if p, ok := s["pattern"].(string); ok {
			re := js.re[p]
			if re == nil {
				re = regexp.MustCompile(p)
				js.re[p] = re
			}
			if !re.MatchString(str) {
				fail("%q does not match %s", str, p)
			}
		}
		if n, ok := s["minLength"].(float64); ok && utf8.RuneCountInString(str) < int(n) {
			fail("shorter than %v", n)
		}
	}
	if obj, ok := x.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		for _, r := range asSlice(s["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				fail("missing %s", r)
			}
		}
		if n, ok := s["minProperties"].(float64); ok && len(obj) < int(n) {
			fail("fewer than %v properties", n)
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			v := obj[k]
			if pn, ok := s["propertyNames"]; ok {
				errs = append(errs, js.validate(pn, k, at+"/"+k+" (name)")...)
			}
			if ps, ok := props[k]; ok {
				errs = append(errs, js.validate(ps, v, at+"/"+k)...)
			} else if ap, ok := s["additionalProperties"]; ok {
				errs = append(errs, js.validate(ap, v, at+"/"+k)...)
			}
		}
	}
	if arr, ok := x.([]any); ok {
		if n, ok := s["minItems"].(float64); ok && len(arr) < int(n) {
			fail("fewer than %v items", n)
		}
		if n, ok := s["maxItems"].(float64); ok && len(arr) > int(n) {
			fail("more than %v items", n)
		}
		if u, _ := s["uniqueItems"].(bool); u {
			for i := range arr {
				for j := range i {
					if jsonEqual(arr[i], arr[j]) {
						fail("item %d repeats item %d", i, j)
					}
				}
			}
		}
		if is, ok := s["items"]; ok {
			for i, v := range arr {
				errs = append(errs, js.validate(is, v, fmt.Sprintf("%s/%d", at, i))...)
			}
		}
	}
	if n, ok := number(x); ok {
		if m, ok := s["minimum"].(float64); ok && n < m {
			fail("%v < %v", n, m)
		}
		if m, ok := s["maximum"].(float64); ok && n > m {
			fail("%v > %v", n, m)
		}
	}
	for _, sub := range asSlice(s["allOf"]) {
		errs = append(errs, js.validate(sub, x, at)...)
	}
	if branches := asSlice(s["anyOf"]); branches != nil && !slices.ContainsFunc(branches, func(sub any) bool { return len(js.validate(sub, x, at)) == 0 }) {
		fail("matches no anyOf branch")
	}
	if one := asSlice(s["oneOf"]); one != nil {
		n := 0
		var why []string
		for i, sub := range one {
			if e := js.validate(sub, x, at); len(e) == 0 {
				n++
			} else {
				why = append(why, fmt.Sprintf("#%d: %s", i, e[0]))
			}
		}
		if n != 1 {
			fail("matches %d oneOf branches (%s)", n, strings.Join(why, "; "))
		}
	}
	if not, ok := s["not"]; ok && len(js.validate(not, x, at)) == 0 {
		fail("matches a not")
	}
	if cond, ok := s["if"]; ok {
		branch := "else"
		if len(js.validate(cond, x, at)) == 0 {
			branch = "then"
		}
		if b, ok := s[branch]; ok {
			errs = append(errs, js.validate(b, x, at)...)
		}
	}
	return errs
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func number(x any) (float64, bool) {
	switch x := x.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func hasType(x any, t string) bool {
	switch t {
	case "object":
		_, ok := x.(map[string]any)
		return ok
	case "array":
		_, ok := x.([]any)
		return ok
	case "string":
		_, ok := x.(string)
		return ok
	case "boolean":
		_, ok := x.(bool)
		return ok
	case "null":
		return x == nil
	case "number":
		_, ok := number(x)
		return ok
	case "integer":
		n, ok := number(x)
		return ok && n == math.Trunc(n)
	}
	return false
}

func jsonEqual(a, b any) bool {
	if na, ok := number(a); ok {
		nb, ok := number(b)
		return ok && na == nb
	}
	return reflect.DeepEqual(a, b)
}

// decodeYAML decodes a flow file as a JSON Schema validator sees it.
func decodeYAML(t *testing.T, src []byte) (any, bool) {
	var x any
	if err := yaml.Unmarshal(src, &x); err != nil {
		return nil, false
	}
	return x, true
}

func TestSchemaUsesOnlyTestedKeywords(t *testing.T) {
	js := loadSchema(t)
	for _, k := range js.keywords() {
		if !slices.Contains(schemaKeywords, k) {
			t.Errorf("the schema uses %q, which the conformance validator does not implement", k)
		}
	}
}

// TestSchemaAcceptsWhatParserAccepts validates every example and testdata
// flow the parser accepts.
func TestSchemaAcceptsWhatParserAccepts(t *testing.T) {
	js := loadSchema(t)
	files, _ := filepath.Glob("testdata/*/*.yaml")
	examples, _ := filepath.Glob("../../examples/flows/*.yaml")
	n := 0
	for _, file := range append(files, examples...) {
		src := mustRead(t, file)
		_, ds := Parse(file, src, Options{})
		if ds.HasErrors() {
			continue
		}
		x, ok := decodeYAML(t, src)
		if !ok {
			t.Errorf("%s: parsed, yet yaml.Unmarshal fails", file)
			continue
		}
		if errs := js.validate(js.root, x, "#"); len(errs) > 0 {
			t.Errorf("%s: the parser accepts it, the schema does not:\n%s", file, strings.Join(errs, "\n"))
		}
		n++
	}
	if n < 30 {
		t.Errorf("only %d flows checked", n)
	}
}

// structural reports whether ds holds an error the schema can express.
func structural(ds Diagnostics) bool {
	for _, d := range ds {
		switch d.Rule {
		case RuleUnknownField, RuleMissingField, RuleInvalidValue, RuleUnknownFilter:
			return true
		}
	}
	return false
}

// TestSchemaRejectsStructuralErrors checks the testdata flows written with
// structural errors, and mutations of an example flow, against both.
func TestSchemaRejectsStructuralErrors(t *testing.T) {
	js := loadSchema(t)
	files, _ := filepath.Glob("testdata/lint/*.yaml")
	for _, file := range files {
		src := mustRead(t, file)
		_, ds := Parse(file, src, Options{})
		x, ok := decodeYAML(t, src)
		if !ok || !structural(ds) {
			continue
		}
		if errs := js.validate(js.root, x, "#"); len(errs) == 0 {
			t.Errorf("%s: the parser rejects it (%s), the schema accepts it", file, ds[0])
		}
	}

	base := mustRead(t, "../../examples/flows/take-payment.yaml")
	step := func(m map[string]any, id string) map[string]any {
		for _, s := range m["steps"].([]any) {
			if s.(map[string]any)["id"] == id {
				return s.(map[string]any)
			}
		}
		t.Fatalf("no step %s", id)
		return nil
	}
	mutations := map[string]func(m map[string]any){
		"no mode":            func(m map[string]any) { delete(m, "mode") },
		"bad mode":           func(m map[string]any) { m["mode"] = "agent" },
		"unknown key":        func(m map[string]any) { m["colour"] = "blue" },
		"bad id":             func(m map[string]any) { m["id"] = "Take Payment" },
		"numeric id":         func(m map[string]any) { m["id"] = 7 },
		"bad timeout":        func(m map[string]any) { m["timeout"] = "forever" },
		"self-service":       func(m map[string]any) { m["mode"] = "self_service" },
		"bad channel":        func(m map[string]any) { m["channels"] = []any{"telegram"} },
		"repeated channel":   func(m map[string]any) { m["channels"] = []any{"whatsapp", "whatsapp"} },
		"no locales":         func(m map[string]any) { m["locale"].(map[string]any)["supported"] = []any{} },
		"bad locale":         func(m map[string]any) { m["locale"].(map[string]any)["default"] = "english" },
		"required as string": func(m map[string]any) { m["inputs"].(map[string]any)["amount"].(map[string]any)["required"] = "yes" },
		"default of int":     func(m map[string]any) { m["inputs"].(map[string]any)["currency"].(map[string]any)["default"] = 5 },
		"required default":   func(m map[string]any) { m["inputs"].(map[string]any)["amount"].(map[string]any)["default"] = "1" },
		"reserved input":     func(m map[string]any) { m["inputs"].(map[string]any)["in"] = map[string]any{"type": "string"} },
		"unknown step type":  func(m map[string]any) { step(m, "intro")["type"] = "sing" },
		"unknown step key":   func(m map[string]any) { step(m, "intro")["txt"] = "x" },
		"say without next":   func(m map[string]any) { delete(step(m, "intro"), "next") },
		"bad step id":        func(m map[string]any) { step(m, "intro")["id"] = "1intro" },
		"bad capture":        func(m map[string]any) { step(m, "card")["capture"] = "sms" },
		"zero attempts":      func(m map[string]any) { step(m, "card")["attempts"] = 0 },
		"three fields, chat": func(m map[string]any) { step(m, "card")["capture"] = "chat" },
		"unknown input type": func(m map[string]any) { fieldOf(step(m, "card"), 0)["type"] = "pin" },
		"length on card":     func(m map[string]any) { fieldOf(step(m, "card"), 0)["length"] = 6 },
		"field without var":  func(m map[string]any) { delete(fieldOf(step(m, "card"), 0), "var") },
		"empty set":          func(m map[string]any) { step(m, "init")["set"] = map[string]any{} },
		"confirm without no": func(m map[string]any) { delete(step(m, "confirm"), "no") },
		"queue and dest":     func(m map[string]any) { step(m, "agent_left")["destination"] = "+1555" },
		"no queue":           func(m map[string]any) { delete(step(m, "agent_left"), "queue") },
		"filtered secret": func(m map[string]any) {
			outputOf(step(m, "charge"), "status")["visibility"] = "secret"
			outputOf(step(m, "charge"), "status")["filter"] = "last4"
		},
		"unknown filter":      func(m map[string]any) { outputOf(step(m, "charge"), "status")["filter"] = "upper" },
		"no visibility":       func(m map[string]any) { delete(outputOf(step(m, "charge"), "status"), "visibility") },
		"bad outcome":         func(m map[string]any) { step(m, "paid")["outcome"] = "paid in full" },
		"summary missing":     func(m map[string]any) { delete(step(m, "paid"), "summary") },
		"empty text":          func(m map[string]any) { step(m, "intro")["text"] = "" },
		"null expression":     func(m map[string]any) { step(m, "outcome")["cases"].([]any)[0].(map[string]any)["when"] = nil },
		"bad binding name":    func(m map[string]any) { step(m, "agent_left")["attributes"].(map[string]any)["no spaces"] = "x" },
		"text list":           func(m map[string]any) { step(m, "intro")["text"] = []any{"a"} },
		"bad action name":     func(m map[string]any) { step(m, "charge")["action"] = "pay ments" },
		"steps not a list":    func(m map[string]any) { m["steps"] = map[string]any{} },
		"bool as duration":    func(m map[string]any) { step(m, "charge")["timeout"] = true },
		"reserve_agent text":  func(m map[string]any) { m["reserve_agent"] = "true" },
		"label of wrong type": func(m map[string]any) { fieldOf(step(m, "card"), 1)["label"] = 3 },
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			x, _ := decodeYAML(t, base)
			m := x.(map[string]any)
			mutate(m)
			src, err := yaml.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			_, ds := Parse("m.yaml", src, Options{})
			if !ds.HasErrors() {
				t.Errorf("the parser accepts it")
			}
			y, _ := decodeYAML(t, src)
			if errs := js.validate(js.root, y, "#"); len(errs) == 0 {
				t.Errorf("the schema accepts it; the parser says:\n%s", ds)
			}
		})
	}
}

func fieldOf(step map[string]any, i int) map[string]any {
	return step["fields"].([]any)[i].(map[string]any)
}

func outputOf(step map[string]any, name string) map[string]any {
	return step["outputs"].(map[string]any)[name].(map[string]any)
}

// TestSchemaDocumentsEveryKey checks that each key the parser knows appears
// in the schema, so that the two cannot drift apart silently.
func TestSchemaDocumentsEveryKey(t *testing.T) {
	src := string(mustRead(t, schemaPath))
	keys := slices.Concat(headerKeys, commonKeys, fieldKeys, inputKeys, outputKeys, caseKeys, localeKeys)
	for _, ks := range bodyKeys {
		keys = append(keys, ks...)
	}
	for _, k := range keys {
		if !strings.Contains(src, `"`+k+`"`) {
			t.Errorf("schema does not mention key %q", k)
		}
	}
	for tp, info := range inputTypes {
		if info.collectable && tp != InputDigits && !strings.Contains(src, `"`+string(tp)+`"`) {
			t.Errorf("schema does not list input type %s", tp)
		}
	}
}
