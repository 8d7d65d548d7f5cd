package flow

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestFieldValidate(t *testing.T) {
	now := time.Date(2026, time.March, 15, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		field Field
		raw   string
		want  string // "" means invalid
	}{
		{Field{Type: InputCardNumber}, " 4111 1111 1111 1111 ", "4111111111111111"},
		{Field{Type: InputCardNumber}, "4111-1111-1111-1111", "4111111111111111"},
		{Field{Type: InputCardNumber}, "4111111111111112", ""}, // Luhn
		{Field{Type: InputCardNumber}, "hello", ""},
		{Field{Type: InputCardExpiry}, "03/26", "03/26"}, // valid through the end of March
		{Field{Type: InputCardExpiry}, "3/2030", "03/30"},
		{Field{Type: InputCardExpiry}, "1229", "12/29"},
		{Field{Type: InputCardExpiry}, "02/26", ""}, // expired
		{Field{Type: InputCardExpiry}, "13/27", ""},
		{Field{Type: InputCardExpiry}, "01/60", ""}, // too far ahead
		{Field{Type: InputCVV}, "123", "123"},
		{Field{Type: InputCVV}, "1234", "1234"},
		{Field{Type: InputCVV}, "12a", ""},
		{Field{Type: InputCPF}, "529.982.247-25", "52998224725"},
		{Field{Type: InputCPF}, "111.111.111-11", ""},
		{Field{Type: InputCNPJ}, "11.222.333/0001-81", "11222333000181"},
		{Field{Type: InputCNPJ}, "11222333000182", ""},
		{Field{Type: InputIBAN}, "de89 3704 0044 0532 0130 00", "DE89370400440532013000"},
		{Field{Type: InputIBAN}, "DE89370400440532013001", ""},
		{Field{Type: InputSSN}, "078-05-1121", "078051121"},
		{Field{Type: InputSSN}, "666-12-3456", ""},
		{Field{Type: InputEmail}, " Joao@Example.COM ", "Joao@example.com"},
		{Field{Type: InputEmail}, "joao@", ""},
		{Field{Type: InputPhone}, "+55 (11) 98765-0132", "+5511987650132"},
		{Field{Type: InputPhone}, "12345", ""},
		{Field{Type: InputDate}, "1990-05-17", "1990-05-17"},
		{Field{Type: InputDate}, "17/05/1990", "1990-05-17"},
		{Field{Type: InputDate}, "31/02/1990", ""},
		{Field{Type: InputDigits, Length: 6}, "123 456", "123456"},
		{Field{Type: InputDigits, Length: 6}, "12345", ""},
		{Field{Type: InputOTP}, "654321", "654321"},
		{Field{Type: InputOTP, Length: 4}, "6543", "6543"},
		{Field{Type: InputOTP}, "6543", ""},
		{Field{Type: InputPattern, Pattern: regexp.MustCompile(`^(?:[A-Z]{2}-\d{5})$`)}, "AB-12345", "AB-12345"},
		{Field{Type: InputPattern, Pattern: regexp.MustCompile(`^(?:[A-Z]{2}-\d{5})$`)}, "AB-1234", ""},
		{Field{Type: InputPassword}, " spaces count ", " spaces count "},
		{Field{Type: InputPassword}, "abc12", ""},
		{Field{Type: InputPassword, MinLength: 4, MaxLength: 6}, "1234567", ""},
		{Field{Type: InputPassword}, "line\nbreak!", ""},
		{Field{Type: InputText}, "  my answer ", "my answer"},
		{Field{Type: InputText}, "   ", ""},
		{Field{Type: InputText, MaxLength: 3}, "abcd", ""},
		{Field{Type: InputSecret}, "x", ""}, // not collectable
		{Field{Type: InputText}, strings.Repeat("a", maxInputBytes+1), ""},
		{Field{Type: InputText}, "\xff", ""},
	}
	for _, tt := range tests {
		tt.field.Var = "v"
		got, err := tt.field.Validate(tt.raw, now)
		if tt.want == "" {
			var ie *InputError
			if !errors.Is(err, ErrInvalidInput) || !errors.As(err, &ie) {
				t.Errorf("%s %q: got %q, %v; want an InputError", tt.field.Type, tt.raw, got, err)
				continue
			}
			if trimmed := strings.TrimSpace(tt.raw); len(trimmed) > 2 && strings.Contains(err.Error(), trimmed) {
				t.Errorf("%s: the error repeats the input: %v", tt.field.Type, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s %q = %q, %v; want %q", tt.field.Type, tt.raw, got, err, tt.want)
		}
	}
}

func TestInputTypeTable(t *testing.T) {
	for tp, info := range inputTypes {
		if !tp.Valid() || !tp.Allows(FilterMask) {
			t.Errorf("%s: every type must allow mask", tp)
		}
		if info.collectable {
			for _, l := range []string{"en", "pt-BR", "es"} {
				if info.label[l] == "" {
					t.Errorf("%s has no %s label", tp, l)
				}
			}
		}
	}
	for _, tp := range []InputType{InputCardNumber, InputCVV, InputIBAN, InputCPF, InputCNPJ, InputSSN} {
		if !tp.LinkOnWhatsApp() {
			t.Errorf("%s must be captured by link on WhatsApp", tp)
		}
	}
	for _, tp := range []InputType{InputCVV, InputPassword, InputOTP} {
		if got := tp.Filters(); len(got) != 1 || got[0] != FilterMask {
			t.Errorf("%s allows %v; want mask alone", tp, got)
		}
	}
}
