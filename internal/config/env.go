package config

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/secureflow/secureflow/internal/secret"
)

// EnvPrefix starts every environment override.
const EnvPrefix = "SECUREFLOW_"

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// field is one leaf of the configuration tree.
type field struct {
	path string // YAML path, e.g. whatsapp.app_secret
	env  string // SECUREFLOW_WHATSAPP_APP_SECRET
	v    reflect.Value
}

// leaves lists every settable leaf of cfg in declaration order.
func leaves(cfg *Config) []field {
	var out []field
	var walk func(v reflect.Value, path []string)
	walk = func(v reflect.Value, path []string) {
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			p := append(append([]string(nil), path...), name)
			fv := v.Field(i)
			if sf.Type.Kind() == reflect.Struct && sf.Type != secretType {
				walk(fv, p)
				continue
			}
			out = append(out, field{
				path: strings.Join(p, "."),
				env:  EnvPrefix + strings.ToUpper(strings.Join(p, "_")),
				v:    fv,
			})
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), nil)
	return out
}

// Fields returns the YAML path and environment variable of every setting, for
// the configuration reference.
func Fields() [][2]string {
	cfg := Default()
	var out [][2]string
	for _, f := range leaves(&cfg) {
		out = append(out, [2]string{f.path, f.env})
	}
	return out
}

func applyEnv(cfg *Config, env map[string]string) []error {
	var problems []error
	for _, f := range leaves(cfg) {
		s, ok := env[f.env]
		if !ok {
			continue
		}
		if err := setFromString(f.v, s); err != nil {
			problems = append(problems, fmt.Errorf("%s (from %s): %w", f.path, f.env, err))
		}
	}
	return problems
}

func setFromString(v reflect.Value, s string) error {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("not a duration: %q", s)
		}
		v.SetInt(int64(d))
	case v.Type() == secretType:
		v.Set(reflect.ValueOf(Secret{raw: s}))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int, v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %q", s)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("not a number: %q", s)
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String && v.Type().Elem().Kind() == reflect.String:
		m := map[string]string{}
		for pair := range strings.SplitSeq(s, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok || k == "" {
				return fmt.Errorf("want KEY=value pairs separated by commas, got %q", pair)
			}
			m[k] = val
		}
		v.Set(reflect.ValueOf(m))
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not a boolean: %q", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var list []string
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				list = append(list, part)
			}
		}
		v.Set(reflect.ValueOf(list))
	case v.Kind() == reflect.Slice && v.Type().Elem() == secretType:
		var list []Secret
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				list = append(list, Secret{raw: part})
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// resolveSecrets turns every Secret's reference into its value.
func resolveSecrets(cfg *Config, env map[string]string) (warnings []string, problems []error) {
	resolve := func(path string, s *Secret) {
		if s.raw == "" {
			return
		}
		ref, val, warn, err := resolve(s.raw, env)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
			return
		}
		if warn {
			warnings = append(warnings, fmt.Sprintf("%s is a literal secret; prefer env:NAME or file:PATH", path))
		}
		s.Ref, s.Value, s.raw = ref, val, ""
	}
	for _, f := range leaves(cfg) {
		switch {
		case f.v.Type() == secretType:
			resolve(f.path, f.v.Addr().Interface().(*Secret))
		case f.v.Kind() == reflect.Slice && f.v.Type().Elem() == secretType:
			for i := range f.v.Len() {
				resolve(fmt.Sprintf("%s[%d]", f.path, i), f.v.Index(i).Addr().Interface().(*Secret))
			}
		}
	}
	return warnings, problems
}

func resolve(raw string, env map[string]string) (ref string, v secret.Value, literal bool, err error) {
	switch {
	case strings.HasPrefix(raw, "env:"):
		name := strings.TrimPrefix(raw, "env:")
		s, ok := env[name]
		if !ok || s == "" {
			return "", secret.Value{}, false, fmt.Errorf("environment variable %s is not set", name)
		}
		return raw, secret.FromString(s), false, nil
	case strings.HasPrefix(raw, "file:"):
		path := strings.TrimPrefix(raw, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			// The error names the path only; the file's content is never in it.
			return "", secret.Value{}, false, fmt.Errorf("read %s: %w", path, err)
		}
		b = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(b) == 0 {
			return "", secret.Value{}, false, fmt.Errorf("file %s is empty", path)
		}
		return raw, secret.New(b), false, nil
	default:
		return "literal", secret.FromString(raw), true, nil
	}
}
