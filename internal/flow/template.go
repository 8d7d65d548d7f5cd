package flow

import (
	"fmt"
	"strconv"
	"strings"
)

// Template is a text with variable references: "Pay {{ amount }} with the
// card ending {{ card | last4 }}?". A reference names a variable and zero or
// more filters, applied left to right. A secret must pass through a masking
// filter first; [Template.Render] refuses it otherwise, and the linter
// proves before the flow runs that it never has to.
//
// There is no escape for a literal "{{". In YAML, quote a template that
// starts with "{{", or YAML reads it as a mapping.
type Template struct {
	// Source is the template as written; Pos is where it starts in the
	// flow file.
	Source string
	Pos    Pos

	parts []part
	// tail holds source positions for diagnostics (nil for templates made
	// by ParseTemplate).
	at func(offset int) Pos
}

// part is a literal text or a reference.
type part struct {
	text string
	ref  *Ref
}

// Ref is one {{ ... }} of a template.
type Ref struct {
	Var     string
	Filters []Filter
	// Offset is the byte offset of the variable name in Template.Source.
	Offset int
}

// TemplateError is the error of [ParseTemplate].
type TemplateError struct {
	// Offset is the byte offset in the source where the problem is.
	Offset int
	Reason string
}

// Error implements error.
func (e *TemplateError) Error() string {
	return "flow: template: " + e.Reason + " at offset " + strconv.Itoa(e.Offset)
}

// ParseTemplate parses src. It checks syntax only: whether variables exist
// and filters suit them is the linter's business. Unknown filter names are
// kept (see [Filter.Valid]).
func ParseTemplate(src string) (*Template, error) {
	t := &Template{Source: src}
	rest, off := src, 0
	for rest != "" {
		i := strings.Index(rest, "{{")
		if i < 0 {
			t.parts = append(t.parts, part{text: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{text: rest[:i]})
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, &TemplateError{Offset: off + i, Reason: `"{{" is never closed by "}}"`}
		}
		inner := rest[i+2 : i+2+j]
		ref, err := parseRef(inner, off+i+2)
		if err != nil {
			return nil, err
		}
		t.parts = append(t.parts, part{ref: ref})
		rest = rest[i+2+j+2:]
		off += i + 2 + j + 2
	}
	return t, nil
}

// parseRef parses the inside of {{ }}: name { "|" filter }. base is the byte
// offset of inner in the template.
func parseRef(inner string, base int) (*Ref, error) {
	if strings.Contains(inner, "{{") {
		return nil, &TemplateError{Offset: base + strings.Index(inner, "{{"), Reason: `"{{" inside a reference`}
	}
	segs := strings.Split(inner, "|")
	ref := &Ref{}
	off := base
	for k, seg := range segs {
		name := strings.TrimSpace(seg)
		at := off + strings.Index(seg, name)
		if name == "" {
			at = off
		}
		switch {
		case name == "" && k == 0:
			return nil, &TemplateError{Offset: at, Reason: "empty reference; write {{ name }}"}
		case name == "":
			return nil, &TemplateError{Offset: at, Reason: `empty filter after "|"`}
		case !isIdent(name):
			what := "variable"
			if k > 0 {
				what = "filter"
			}
			return nil, &TemplateError{Offset: at, Reason: fmt.Sprintf("%q is not a %s name", name, what)}
		}
		if k == 0 {
			ref.Var, ref.Offset = name, at
		} else {
			ref.Filters = append(ref.Filters, Filter(name))
		}
		off += len(seg) + 1
	}
	return ref, nil
}

// isIdent reports whether s is [A-Za-z_][A-Za-z0-9_]*.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z'):
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Refs returns the template's references in order.
func (t *Template) Refs() []Ref {
	var out []Ref
	for _, p := range t.parts {
		if p.ref != nil {
			out = append(out, *p.ref)
		}
	}
	return out
}

// String returns the source.
func (t *Template) String() string { return t.Source }

// whole returns the reference if the template is exactly one reference with
// no filter and no surrounding text, else nil.
func (t *Template) whole() *Ref {
	if len(t.parts) == 1 && t.parts[0].ref != nil && len(t.parts[0].ref.Filters) == 0 {
		return t.parts[0].ref
	}
	return nil
}

// posOf returns the flow-file position of byte offset off in Source.
func (t *Template) posOf(off int) Pos {
	if t.at != nil {
		return t.at(off)
	}
	return t.Pos
}

// Scope supplies variable values to [Template.Render]. A value is a string,
// bool, int, int64, uint64, float64 or, for a secret, a [Secret].
type Scope interface {
	Lookup(name string) (any, bool)
}

// Vars is a [Scope] held in a map.
type Vars map[string]any

// Lookup implements [Scope].
func (v Vars) Lookup(name string) (any, bool) {
	x, ok := v[name]
	return x, ok
}

// Render writes the template with values from s. A secret without a masking
// filter fails with [ErrSecretUnmasked]; a filter the secret's type does not
// allow with [ErrFilterNotAllowed]; a variable s lacks with
// [ErrUndefinedVariable]. Errors name variables and filters, never values.
func (t *Template) Render(s Scope) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == nil {
			b.WriteString(p.text)
			continue
		}
		v, err := renderRef(p.ref, s)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// Value returns what the template stands for as a data action input: if the
// template is one reference without filters and text around it
// ("{{ card }}"), the variable's value itself, which may be a [Secret] (the
// action layer reveals it into the outgoing request only); otherwise the
// rendered string.
func (t *Template) Value(s Scope) (any, error) {
	if r := t.whole(); r != nil {
		v, ok := s.Lookup(r.Var)
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrUndefinedVariable, r.Var)
		}
		return v, nil
	}
	return t.Render(s)
}

func renderRef(r *Ref, s Scope) (string, error) {
	v, ok := s.Lookup(r.Var)
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrUndefinedVariable, r.Var)
	}
	filters := r.Filters
	var out string
	switch v := v.(type) {
	case Secret:
		if len(filters) == 0 {
			return "", fmt.Errorf("%w: {{ %s }}", ErrSecretUnmasked, r.Var)
		}
		m, err := v.Masked(filters[0])
		if err != nil {
			return "", fmt.Errorf("{{ %s | %s }}: %w", r.Var, filters[0], err)
		}
		out, filters = m, filters[1:]
	case string:
		out = v
	case bool:
		out = strconv.FormatBool(v)
	case int:
		out = strconv.Itoa(v)
	case int64:
		out = strconv.FormatInt(v, 10)
	case uint64:
		out = strconv.FormatUint(v, 10)
	case float64:
		out = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return "", fmt.Errorf("%w: %s holds %T", ErrUnsupportedValue, r.Var, v)
	}
	for _, f := range filters {
		var err error
		if out, err = applyPublic(f, out); err != nil {
			return "", fmt.Errorf("{{ %s | %s }}: %w", r.Var, f, err)
		}
	}
	return out, nil
}
