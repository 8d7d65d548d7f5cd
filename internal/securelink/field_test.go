package securelink_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/securelink"
)

func mustTemplate(t *testing.T, s string) *flow.Template {
	t.Helper()
	tpl, err := flow.ParseTemplate(s)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// TestFieldSpecRoundTrip checks that a field survives FieldSpecFrom, JSON
// (as stored) and Field with the same validation as the original.
func TestFieldSpecRoundTrip(t *testing.T) {
	now := t0
	for _, tc := range []struct {
		name   string
		field  *flow.Field
		inputs []string
	}{
		{"card", &flow.Field{Var: "card", Type: flow.InputCardNumber}, []string{canaryCard, "4012 8888 8888 1881", "4012888888881882", ""}},
		{"expiry", &flow.Field{Var: "exp", Type: flow.InputCardExpiry}, []string{"12/29", "01/20", "1229", "13/29"}},
		{"digits", &flow.Field{Var: "pin", Type: flow.InputDigits, Length: 4}, []string{"1234", "12345", "12 34"}},
		{"otp default", &flow.Field{Var: "otp", Type: flow.InputOTP}, []string{"123456", "1234"}},
		{"password", &flow.Field{Var: "pw", Type: flow.InputPassword, MinLength: 10, MaxLength: 12}, []string{"short", "exactly10c", "far too long password"}},
		{"text", &flow.Field{Var: "t", Type: flow.InputText, MaxLength: 3}, []string{"abc", "abcd", " "}},
		{"pattern", &flow.Field{Var: "code", Type: flow.InputPattern, MaxLength: 5, Pattern: regexp.MustCompile(`^(?:[A-Z]{2}-\d{2})$`)},
			[]string{"AB-12", "ab-12", "AB-123", "xAB-12"}},
		{"cpf", &flow.Field{Var: "cpf", Type: flow.InputCPF}, []string{"529.982.247-25", "52998224726"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := securelink.FieldSpecFrom(tc.field)
			b, err := json.Marshal(spec)
			if err != nil {
				t.Fatal(err)
			}
			var back securelink.FieldSpec
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			f := back.Field()
			if f.Var != tc.field.Var || f.Type != tc.field.Type || f.Length != tc.field.Length ||
				f.MinLength != tc.field.MinLength || f.MaxLength != tc.field.MaxLength {
				t.Errorf("field %+v, want %+v", f, tc.field)
			}
			for _, in := range tc.inputs {
				w, werr := tc.field.Validate(in, now)
				g, gerr := f.Validate(in, now)
				if w != g || (werr == nil) != (gerr == nil) {
					t.Errorf("Validate(%q) = %q, %v; original %q, %v", in, g, gerr, w, werr)
				}
			}
		})
	}
}

func TestFieldSpecLabels(t *testing.T) {
	f := &flow.Field{Var: "card", Type: flow.InputCardNumber, Label: flow.Text{Localized: map[string]*flow.Template{
		"en":    mustTemplate(t, "Your card"),
		"pt-BR": mustTemplate(t, "Seu cartão"),
		"es":    mustTemplate(t, "Tarjeta de {{ name }}"), // needs a variable: left out
	}}}
	spec := securelink.FieldSpecFrom(f)
	want := map[string]string{"en": "Your card", "pt-BR": "Seu cartão"}
	if len(spec.Label) != len(want) || spec.Label["en"] != want["en"] || spec.Label["pt-BR"] != want["pt-BR"] {
		t.Errorf("labels %q, want %q", spec.Label, want)
	}
	plain := securelink.FieldSpecFrom(&flow.Field{Var: "x", Type: flow.InputCVV, Label: flow.Text{Plain: mustTemplate(t, "CVC")}})
	if plain.Label[""] != "CVC" {
		t.Errorf("plain label %q", plain.Label)
	}
	// A bad stored pattern refuses everything rather than accepting it.
	bad := securelink.FieldSpec{Var: "p", Type: flow.InputPattern, Pattern: "("}.Field()
	if _, err := bad.Validate("anything", time.Now()); !errors.Is(err, flow.ErrInvalidInput) {
		t.Errorf("bad pattern accepted input: %v", err)
	}
}
