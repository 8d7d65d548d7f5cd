package flow

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		src     string
		refs    []Ref
		errAt   int // -1: no error
		errText string
	}{
		{src: "plain text", errAt: -1},
		{src: "", errAt: -1},
		{src: "Hi {{ name }}!", refs: []Ref{{Var: "name", Offset: 6}}, errAt: -1},
		{src: "{{name|last4}}", refs: []Ref{{Var: "name", Filters: []Filter{"last4"}, Offset: 2}}, errAt: -1},
		{src: "{{ card | first6last4 | length }} and {{ x }}", refs: []Ref{
			{Var: "card", Filters: []Filter{"first6last4", "length"}, Offset: 3},
			{Var: "x", Offset: 41},
		}, errAt: -1},
		{src: "a }} b", errAt: -1},
		{src: "Hi {{ name", errAt: 3, errText: "never closed"},
		{src: "{{ }}", errAt: 2, errText: "empty reference"},
		{src: "{{ a | }}", errAt: 6, errText: "empty filter"},
		{src: "{{ a.b }}", errAt: 3, errText: "not a variable name"},
		{src: "{{ a | la st }}", errAt: 7, errText: "not a filter name"},
		{src: "{{ 1a }}", errAt: 3, errText: "not a variable name"},
		{src: "{{ {{ a }}", errAt: 3, errText: `"{{" inside`},
	}
	for _, tt := range tests {
		tpl, err := ParseTemplate(tt.src)
		if tt.errAt >= 0 {
			var te *TemplateError
			if !errors.As(err, &te) || te.Offset != tt.errAt || !strings.Contains(te.Reason, tt.errText) {
				t.Errorf("ParseTemplate(%q) error = %v, want %q at %d", tt.src, err, tt.errText, tt.errAt)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", tt.src, err)
			continue
		}
		if got := tpl.Refs(); !slices.EqualFunc(got, tt.refs, func(a, b Ref) bool {
			return a.Var == b.Var && a.Offset == b.Offset && slices.Equal(a.Filters, b.Filters)
		}) {
			t.Errorf("ParseTemplate(%q).Refs() = %+v, want %+v", tt.src, got, tt.refs)
		}
		if tpl.String() != tt.src {
			t.Errorf("String() = %q, want %q", tpl.String(), tt.src)
		}
	}
}

func mustTemplate(t *testing.T, src string) *Template {
	t.Helper()
	tpl, err := ParseTemplate(src)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

const testPAN = "4111111111111111"

func TestRender(t *testing.T) {
	vars := Vars{
		"name":   "Ana",
		"amount": 49.9,
		"n":      int64(3),
		"i":      7,
		"ok":     true,
		"card":   Seal(InputCardNumber, testPAN),
		"pw":     Seal(InputPassword, "hunter2hunter2"),
		"cpf":    Seal(InputCPF, "52998224725"),
		"weird":  []byte("x"),
	}
	tests := []struct {
		src  string
		want string
		err  error
	}{
		{"Hi {{ name }}, {{ amount }} {{ n }} {{ i }} {{ ok }}", "Hi Ana, 49.9 3 7 true", nil},
		{"{{ card | last4 }}", "1111", nil},
		{"{{ card | first6last4 }}", "411111••••••1111", nil},
		{"{{ card | brand }}", "visa", nil},
		{"{{ card | length }}", "16", nil},
		{"{{ card | mask }}", "[card ••••1111]", nil},
		{"{{ card | last4 | length }}", "4", nil},
		{"{{ cpf | mask }}", "[cpf •••.•••.•••-25]", nil},
		{"{{ pw | mask }}", "[password]", nil},
		{"{{ name | last4 }} {{ name | length }} {{ name | token }}", "Ana 3 Ana", nil},
		{"{{ card }}", "", ErrSecretUnmasked},
		{"{{ pw | last4 }}", "", ErrFilterNotAllowed},
		{"{{ pw | length }}", "", ErrFilterNotAllowed},
		{"{{ card | token }}", "", ErrFilterUnavailable},
		{"{{ card | nope }}", "", ErrFilterNotAllowed},
		{"{{ missing }}", "", ErrUndefinedVariable},
		{"{{ weird }}", "", ErrUnsupportedValue},
	}
	for _, tt := range tests {
		got, err := mustTemplate(t, tt.src).Render(vars)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("Render(%q) = %q, %v; want %q, %v", tt.src, got, err, tt.want, tt.err)
		}
		if err != nil && strings.Contains(err.Error(), testPAN[6:12]) {
			t.Errorf("error of Render(%q) leaks digits: %v", tt.src, err)
		}
	}
	// With a token attached, the token filter answers.
	withToken := Vars{"card": Seal(InputCardNumber, testPAN).WithToken("tok_123")}
	if got, err := mustTemplate(t, "{{ card | token }}").Render(withToken); err != nil || got != "tok_123" {
		t.Errorf("token = %q, %v", got, err)
	}
}

func TestTemplateValue(t *testing.T) {
	card := Seal(InputCardNumber, testPAN)
	vars := Vars{"card": card, "amount": 10.5}
	v, err := mustTemplate(t, "{{ card }}").Value(vars)
	if err != nil || v != any(card) {
		t.Errorf("whole secret reference: %v, %v", v, err)
	}
	v, err = mustTemplate(t, "{{ amount }}").Value(vars)
	if err != nil || v != any(10.5) {
		t.Errorf("whole reference keeps its type: %#v, %v", v, err)
	}
	if _, err := mustTemplate(t, "n={{ card }}").Value(vars); !errors.Is(err, ErrSecretUnmasked) {
		t.Errorf("secret inside text: %v", err)
	}
	v, err = mustTemplate(t, "x{{ amount }}").Value(vars)
	if err != nil || v != any("x10.5") {
		t.Errorf("text renders: %#v, %v", v, err)
	}
}

func TestSealedNeverPrintsTheValue(t *testing.T) {
	s := Seal(InputCardNumber, testPAN)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s)} {
		if strings.Contains(out, "111111") || strings.Contains(out, "4111") {
			t.Errorf("formatting a Sealed shows the value: %s", out)
		}
	}
	if s.Type() != InputCardNumber {
		t.Errorf("Type() = %s", s.Type())
	}
	var zero Sealed
	if _, err := zero.Masked(FilterMask); err == nil {
		t.Error("zero Sealed answered")
	}
}

func TestApplyFilterTable(t *testing.T) {
	tests := []struct {
		typ  InputType
		f    Filter
		raw  string
		want string
		err  error
	}{
		{InputCardNumber, FilterFirst6Last4, "378282246310005", "••••0005", nil}, // 15 digits: no first six
		{InputCardNumber, FilterBrand, "378282246310005", "amex", nil},
		{InputCVV, FilterMask, "123", "[cvv]", nil},
		{InputCVV, FilterToken, "123", "", ErrFilterNotAllowed},
		{InputCVV, FilterLength, "123", "", ErrFilterNotAllowed},
		{InputOTP, FilterLast4, "123456", "", ErrFilterNotAllowed},
		{InputIBAN, FilterMask, "DE89370400440532013000", "[iban DE•• •••• 3000]", nil},
		{InputIBAN, FilterLast4, "DE89370400440532013000", "3000", nil},
		{InputSSN, FilterMask, "078051121", "[ssn]", nil},
		{InputPhone, FilterLast4, "+5511987650132", "0132", nil},
		{InputEmail, FilterMask, "joao@example.com", "[email j•••@example.com]", nil},
		{InputEmail, FilterLast4, "joao@example.com", "", ErrFilterNotAllowed},
		{InputDate, FilterMask, "1990-05-17", "[date]", nil},
		{InputText, FilterLength, "héllo", "5", nil},
		{InputSecret, FilterLast4, "abcdef", "", ErrFilterNotAllowed},
		{InputCardNumber, FilterToken, testPAN, "", ErrFilterUnavailable},
		{InputCardNumber, Filter("upper"), testPAN, "", ErrFilterNotAllowed},
		{InputType("nope"), FilterMask, testPAN, "", ErrFilterNotAllowed},
	}
	for _, tt := range tests {
		got, err := ApplyFilter(tt.typ, tt.f, tt.raw)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("ApplyFilter(%s, %s) = %q, %v; want %q, %v", tt.typ, tt.f, got, err, tt.want, tt.err)
		}
		if err != nil && tt.raw != "" && strings.Contains(err.Error(), tt.raw) {
			t.Errorf("error leaks the value: %v", err)
		}
	}
}

// TestMasksDiscloseLittle checks, for every input type and every filter it
// allows, that the result never holds more than four consecutive characters
// of the value, except first6last4 (six) and the e-mail mask (the domain).
func TestMasksDiscloseLittle(t *testing.T) {
	samples := map[InputType]string{
		InputCardNumber: "5500005555555559", InputCardExpiry: "12/30", InputCVV: "737",
		InputCPF: "52998224725", InputCNPJ: "11222333000181", InputIBAN: "GB82WEST12345698765432",
		InputSSN: "078051121", InputPhone: "+5511987650132", InputDate: "1990-05-17", InputEmail: "joao@example.com",
		InputDigits: "12345678", InputPattern: "AB-12345", InputOTP: "123456",
		InputPassword: "correct horse battery", InputText: "my mother's maiden name", InputSecret: "sk_live_abcdefgh",
	}
	for tp := range inputTypes {
		raw, ok := samples[tp]
		if !ok {
			t.Errorf("no sample for %s", tp)
			continue
		}
		for _, f := range tp.Filters() {
			got, err := ApplyFilter(tp, f, raw)
			if f == FilterToken {
				if !errors.Is(err, ErrFilterUnavailable) {
					t.Errorf("%s | token: %v", tp, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s | %s: %v", tp, f, err)
				continue
			}
			limit := 4
			if f == FilterFirst6Last4 {
				limit = 6
			}
			if tp == InputEmail {
				continue
			}
			if n := longestCommonRun(got, raw); n > limit {
				t.Errorf("%s | %s = %q shows %d consecutive characters of the value", tp, f, got, n)
			}
		}
	}
}

func longestCommonRun(a, b string) int {
	best := 0
	for i := range len(a) {
		for j := range len(b) {
			k := 0
			for i+k < len(a) && j+k < len(b) && a[i+k] == b[j+k] {
				k++
			}
			best = max(best, k)
		}
	}
	return best
}
