package waflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
)

// Problem is one finding of CheckFlowJSON.
type Problem struct {
	// File is the name given to CheckFlowJSON.
	File string
	// Path is where in the document, as a JSON path such as
	// screens[0].layout.children[1].on-click-action.payload.
	Path string
	// Message says what is wrong.
	Message string
}

// String formats the problem as "file: path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.File + ": " + p.Message
	}
	return p.File + ": " + p.Path + ": " + p.Message
}

// formRef matches a form value reference in a Flow JSON string: ${form.x}
// or, in newer Flow JSON versions, ${screen.SCREEN.form.x}.
var formRef = regexp.MustCompile(`\$\{\s*(?:screen\.[A-Za-z0-9_]+\.)?form\.([A-Za-z0-9_]+)\s*\}`)

// dataRef matches a data reference: ${data.x} or ${screen.SCREEN.data.x}.
var dataRef = regexp.MustCompile(`\$\{\s*(?:screen\.[A-Za-z0-9_]+\.)?data\.([A-Za-z0-9_]+)\s*\}`)

// CheckFlowJSON checks a Flow JSON (whatsapp.md §3.9) for the gateway's
// use and returns its problems, none when it is fit:
//
//   - it must parse, declare data_api_version "3.0" and a routing_model
//     (whatsapp.md §3.1 step 4), and have screens;
//   - no complete action's payload may reference a form value (${form.x})
//     or a secret field (secretFields, by name, as ${data.x} too): the
//     complete payload becomes the nfm_reply webhook's response_json and
//     travels in clear through whoever receives webhooks (whatsapp.md §1.4);
//   - every secret field must be sent by some data_exchange action, which
//     is how its value reaches the endpoint encrypted.
//
// name labels the problems (usually the file name).
func CheckFlowJSON(name string, src []byte, secretFields []string) []Problem {
	var probs []Problem
	add := func(path, format string, a ...any) {
		probs = append(probs, Problem{File: name, Path: path, Message: fmt.Sprintf(format, a...)})
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		add("", "not a JSON object: %v", err)
		return probs
	}
	if v, _ := doc["data_api_version"].(string); v != "3.0" {
		add("data_api_version", `must be "3.0" for a Flow served by the gateway's endpoint`)
	}
	if rm, ok := doc["routing_model"].(map[string]any); !ok || len(rm) == 0 {
		add("routing_model", "missing: an endpoint Flow needs a routing model")
	}
	if sc, ok := doc["screens"].([]any); !ok || len(sc) == 0 {
		add("screens", "missing or empty")
	}
	secret := map[string]bool{}
	for _, f := range secretFields {
		secret[f] = true
	}
	exchanged := map[string]bool{}
	walk(doc, "", func(path string, obj map[string]any) {
		actName, _ := obj["name"].(string)
		payload, hasPayload := obj["payload"]
		if !hasPayload {
			return
		}
		switch actName {
		case "complete":
			eachString(payload, path+".payload", func(p, s string) {
				for _, m := range formRef.FindAllStringSubmatch(s, -1) {
					add(p, "complete payload carries form field %q: it would reach the nfm_reply webhook in clear (whatsapp.md §1.4)", m[1])
				}
				for _, m := range dataRef.FindAllStringSubmatch(s, -1) {
					if secret[m[1]] {
						add(p, "complete payload carries secret field %q", m[1])
					}
				}
			})
		case "data_exchange":
			eachString(payload, path+".payload", func(_, s string) {
				for _, m := range formRef.FindAllStringSubmatch(s, -1) {
					exchanged[m[1]] = true
				}
			})
		}
	})
	missing := make([]string, 0, len(secret))
	for f := range secret {
		if !exchanged[f] {
			missing = append(missing, f)
		}
	}
	sort.Strings(missing)
	for _, f := range missing {
		add("", "secret field %q is not sent by any data_exchange action", f)
	}
	return probs
}

// walk calls fn for every object in v, depth first, with its JSON path.
func walk(v any, path string, fn func(string, map[string]any)) {
	switch t := v.(type) {
	case map[string]any:
		fn(path, t)
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walk(t[k], p, fn)
		}
	case []any:
		for i, e := range t {
			walk(e, path+"["+strconv.Itoa(i)+"]", fn)
		}
	}
}

// eachString calls fn for every string inside v (keys included), with its
// path.
func eachString(v any, path string, fn func(string, string)) {
	switch t := v.(type) {
	case string:
		fn(path, t)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fn(path, k)
			eachString(t[k], path+"."+k, fn)
		}
	case []any:
		for i, e := range t {
			eachString(e, path+"["+strconv.Itoa(i)+"]", fn)
		}
	}
}
