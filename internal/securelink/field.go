package securelink

import (
	"regexp"
	"strings"

	"github.com/secureflow/secureflow/internal/flow"
)

// FieldSpec is the stored description of one field of a link's form: what
// flow.Field says, in plain data (no compiled pattern, no templates).
type FieldSpec struct {
	Var       string         `json:"var"`
	Type      flow.InputType `json:"type"`
	Length    int            `json:"length,omitempty"`
	MinLength int            `json:"min_length,omitempty"`
	MaxLength int            `json:"max_length,omitempty"`
	// Pattern is the source of the field's compiled pattern, anchored as
	// flow compiles it.
	Pattern string `json:"pattern,omitempty"`
	// Label maps a locale to the field's label; the key "" holds a label
	// for every locale. Empty: the built-in label of the type.
	Label map[string]string `json:"label,omitempty"`
}

// FieldSpecFrom describes f for storage. Labels that need variables to
// render are left out (the built-in label is shown instead).
func FieldSpecFrom(f *flow.Field) FieldSpec {
	fs := FieldSpec{Var: f.Var, Type: f.Type, Length: f.Length, MinLength: f.MinLength, MaxLength: f.MaxLength}
	if f.Pattern != nil {
		fs.Pattern = f.Pattern.String()
	}
	add := func(locale string, t *flow.Template) {
		if t == nil {
			return
		}
		s, err := t.Render(flow.Vars{})
		if err != nil || strings.TrimSpace(s) == "" {
			return
		}
		if fs.Label == nil {
			fs.Label = map[string]string{}
		}
		fs.Label[locale] = s
	}
	add("", f.Label.Plain)
	for l, t := range f.Label.Localized {
		add(l, t)
	}
	return fs
}

// Field returns the flow.Field fs describes, for validation with
// flow.Field.Validate. A pattern that no longer compiles yields a field
// whose Validate refuses every input.
func (fs FieldSpec) Field() *flow.Field {
	f := &flow.Field{Var: fs.Var, Type: fs.Type, Length: fs.Length, MinLength: fs.MinLength, MaxLength: fs.MaxLength}
	if fs.Pattern != "" {
		if re, err := regexp.Compile(fs.Pattern); err == nil {
			f.Pattern = re
		}
	}
	return f
}

// label returns the field's label in locale: the field's own, else the
// built-in one of its type.
func (fs FieldSpec) label(locale string) string {
	if s, ok := fs.Label[locale]; ok {
		return s
	}
	if s, ok := fs.Label[""]; ok {
		return s
	}
	if l := fs.Type.Label(locale); l != "" {
		return l
	}
	return msg(locale, "value")
}

// inputAttrs are the HTML attributes of a field's input element.
type inputAttrs struct {
	Type           string // input type attribute
	Autocomplete   string
	InputMode      string // "" for none
	Autocapitalize string // "" for none
	Placeholder    string
	MaxLength      int  // 0 for none
	Group          bool // digit grouping script applies
}

// cardNameVars are text field variables taken to be the name on a card
// (autocomplete cc-name).
var cardNameVars = map[string]bool{"card_name": true, "cardholder": true, "cardholder_name": true, "name_on_card": true, "holder_name": true}

// attrs returns the input attributes of the field: autocomplete tokens
// from the HTML Living Standard's autofill field names, and a numeric
// keyboard for digit-only types.
func (fs FieldSpec) attrs(locale string) inputAttrs {
	a := inputAttrs{Type: "text", Autocomplete: "off"}
	switch fs.Type {
	case flow.InputCardNumber:
		a.Autocomplete, a.InputMode, a.MaxLength, a.Group = "cc-number", "numeric", 23, true
	case flow.InputCardExpiry:
		a.Autocomplete, a.InputMode, a.Placeholder, a.MaxLength = "cc-exp", "numeric", msg(locale, "ph_expiry"), 7
	case flow.InputCVV:
		a.Autocomplete, a.InputMode, a.MaxLength = "cc-csc", "numeric", 4
	case flow.InputCPF:
		a.InputMode, a.Placeholder, a.MaxLength = "numeric", "000.000.000-00", 14
	case flow.InputSSN:
		a.InputMode, a.MaxLength = "numeric", 11
	case flow.InputCNPJ, flow.InputIBAN:
		a.Autocapitalize = "characters"
	case flow.InputEmail:
		a.Type, a.Autocomplete = "email", "email"
	case flow.InputPhone:
		a.Type, a.Autocomplete = "tel", "tel"
	case flow.InputDate:
		a.Autocomplete, a.InputMode, a.Placeholder = "bday", "numeric", msg(locale, "ph_date")
	case flow.InputDigits:
		a.InputMode = "numeric"
		if fs.Length > 0 {
			a.MaxLength = fs.Length
		}
	case flow.InputOTP:
		a.Autocomplete, a.InputMode = "one-time-code", "numeric"
	case flow.InputPassword:
		// A variable naming a new password gets new-password, so password
		// managers offer to generate and save one; any other password is
		// one the customer already has.
		a.Type, a.Autocomplete = "password", "current-password"
		if strings.Contains(strings.ToLower(fs.Var), "new") {
			a.Autocomplete = "new-password"
		}
	case flow.InputText:
		if cardNameVars[strings.ToLower(fs.Var)] {
			a.Autocomplete = "cc-name"
		}
	}
	return a
}
