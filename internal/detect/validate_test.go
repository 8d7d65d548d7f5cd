package detect

import (
	"fmt"
	"testing"
)

func TestDigits(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "",
		"4111 1111-1111.1111": "4111111111111111",
		"123":                 "123",
		"a1b2c3 ٣":            "123", // Arabic-Indic digits are not ASCII digits
	} {
		if got := Digits(in); got != want {
			t.Errorf("Digits(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidCard(t *testing.T) {
	tests := []struct {
		pan   string
		brand string // "" for invalid
	}{
		{"4111111111111111", "visa"},
		{"4111 1111 1111 1111", "visa"},
		{"4111-1111-1111-1111", "visa"},
		{"4222222222222", "visa"},
		{"5555555555554444", "mastercard"},
		{"2223003122003222", "mastercard"}, // 2-series
		{luhnComplete("272099999999999"), "mastercard"},
		{"378282246310005", "amex"},
		{"3782 822463 10005", "amex"},
		{"6011111111111117", "discover"},
		{luhnComplete("644000000000000"), "discover"},
		{"3530111333300000", "jcb"},
		{"30569309025904", "diners"},
		{luhnComplete("3600000000000"), "diners"},
		{luhnComplete("636368000000000"), "elo"},
		{luhnComplete("401178000000000"), "elo"}, // Elo BIN inside the Visa range
		{luhnComplete("650031000000000"), "elo"}, // Elo BIN inside the Discover range
		{luhnComplete("606282000000000"), "hipercard"},
		{luhnComplete("384100000000000"), "hipercard"},
		{luhnComplete("620000000000000"), "unionpay"},
		{luhnComplete("621234567890123456"), "unionpay"}, // 19 digits
		{"6759649826438453", "maestro"},
		{"5019717010103742", "dankort"},
		{"122000000000003", "uatp"},
		// Invalid.
		{"4111111111111112", ""},     // Luhn
		{"411111111111111", ""},      // Visa is never 15 digits
		{"1748503543012", ""},        // UATP is 15 digits; a millisecond timestamp
		{"9111111111111111", ""},     // no scheme
		{"4111  1111 1111 1111", ""}, // doubled separator
		{"4111 1111-1111 1111", ""},  // mixed separators
		{" 4111111111111111", ""},    // leading separator
		{"4111111111111111-", ""},    // trailing separator
		{"41111111111111111111", ""}, // 20 digits
		{"", ""},
		{"411111111111111a", ""},
	}
	for _, tc := range tests {
		if got := ValidCard(tc.pan); got != (tc.brand != "") {
			t.Errorf("ValidCard(%q) = %v, want %v", tc.pan, got, tc.brand != "")
		}
		if tc.brand != "" {
			if got := CardBrand(Digits(tc.pan)); got != tc.brand {
				t.Errorf("CardBrand(%q) = %q, want %q", Digits(tc.pan), got, tc.brand)
			}
		}
	}
}

func TestCardBrandPrefixes(t *testing.T) {
	for digits, want := range map[string]string{
		"4":         "visa",
		"51":        "mastercard",
		"2221":      "mastercard",
		"2220":      "",
		"2721":      "",
		"34":        "amex",
		"37":        "amex",
		"6011":      "discover",
		"65":        "discover",
		"3528":      "jcb",
		"3589":      "jcb",
		"3590":      "",
		"305":       "diners",
		"306":       "",
		"62":        "unionpay",
		"509000":    "elo",
		"509":       "maestro", // fewer than six digits: the broader scheme
		"606282":    "hipercard",
		"60628":     "",
		"12a4":      "",
		"":          "",
		"457631123": "elo",
	} {
		if got := CardBrand(digits); got != want {
			t.Errorf("CardBrand(%q) = %q, want %q", digits, got, want)
		}
	}
}

func TestValidCPF(t *testing.T) {
	for s, want := range map[string]bool{
		"123.456.789-09": true,
		"12345678909":    true,
		"123456789-09":   true,
		"529.982.247-25": true,
		"123.456.789-08": false, // second check digit
		"123.456.789-19": false, // first check digit
		"111.111.111-11": false, // repeated digit: passes the arithmetic, never issued
		"00000000000":    false,
		"123.456.78909":  false, // partial punctuation
		"123-456-789-09": false,
		"1234567890":     false,
		"123456789090":   false,
		"":               false,
	} {
		if got := ValidCPF(s); got != want {
			t.Errorf("ValidCPF(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestValidCNPJ(t *testing.T) {
	for s, want := range map[string]bool{
		"11.222.333/0001-81": true,
		"11222333000181":     true,
		"12.ABC.345/01DE-35": true, // Receita Federal's alphanumeric example
		"12ABC34501DE35":     true,
		"12.abc.345/01de-35": false, // letters are upper case by rule
		"11.222.333/0001-82": false,
		"12.ABC.345/01DE-36": false,
		"12.ABC.345/01DE-3A": false, // check digits are digits
		"00.000.000/0000-00": false,
		"AA.AAA.AAA/AAAA-00": false,
		"11.222.333.0001-81": false,
		"1122233300018":      false,
		"":                   false,
	} {
		if got := ValidCNPJ(s); got != want {
			t.Errorf("ValidCNPJ(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestCNPJCheckDigits follows the Receita Federal's worked example of the
// alphanumeric rule step by step: characters valued ASCII-48, weights 2..9
// from the right.
func TestCNPJCheckDigits(t *testing.T) {
	base := "12ABC34501DE"
	want := "35"
	d := []byte(base)
	for n := 12; n <= 13; n++ {
		sum, w := 0, 2
		for i := n - 1; i >= 0; i-- {
			sum += int(d[i]-'0') * w
			if w++; w > 9 {
				w = 2
			}
		}
		d = append(d, byte('0'+mod11Check(sum)))
	}
	if got := string(d[12:]); got != want {
		t.Fatalf("check digits of %s = %s, want %s", base, got, want)
	}
}

func TestValidIBAN(t *testing.T) {
	for s, want := range map[string]bool{
		"DE89370400440532013000":               true,
		"DE89 3704 0044 0532 0130 00":          true,
		"GB29NWBK60161331926819":               true,
		"BR9700360305000010009795493P1":        true,
		"BR97 0036 0305 0000 1000 9795 493P 1": true,
		"NO9386011117947":                      true,  // shortest
		"LC55HEMM000100010012001200023015":     true,  // 32 characters
		"DE89370400440532013001":               false, // mod 97
		"DE8937040044053201300":                false, // length for DE
		"DE89 3704 0044 0532 0130 0":           false,
		"DE89  3704 0044 0532 0130 00":         false, // doubled space
		"DE89 370 40044 0532 0130 00":          false, // irregular group
		"de89370400440532013000":               false, // lower case
		"XX89370400440532013000":               false, // unknown country
		"GB29 1WBK 6016 1331 9268 19":          false, // BBAN structure: bank code is letters
		"":                                     false,
	} {
		if got := ValidIBAN(s); got != want {
			t.Errorf("ValidIBAN(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestIBANSpecs checks that every registry entry compiles and that its BBAN
// structure adds up to the IBAN length the registry lists (compileIBANSpecs
// panics otherwise; this names the country).
func TestIBANSpecs(t *testing.T) {
	for cc, spec := range ibanSpecs {
		classes, err := expandBBAN(spec.bban)
		if err != nil {
			t.Errorf("%s: %v", cc, err)
			continue
		}
		if 4+len(classes) != spec.length {
			t.Errorf("%s: BBAN %q gives %d characters, registry says %d", cc, spec.bban, 4+len(classes), spec.length)
		}
	}
}

func TestValidSSN(t *testing.T) {
	for s, want := range map[string]bool{
		"078-05-1123": true,
		"078 05 1123": true,
		"078.05.1123": true,
		"078051123":   true,
		"665-01-0001": true,
		"000-12-3456": false, // area 000
		"666-12-3456": false, // area 666
		"900-12-3456": false, // area 9xx (never issued; ITINs live there)
		"123-00-4567": false, // group 00
		"123-45-0000": false, // serial 0000
		"078-05-1120": false, // Woolworth wallet card
		"219-09-9999": false, // SSA pamphlet
		"123-45-6789": false, // advertising example
		"111-11-1111": false, // repeated digit
		"123-45 6789": false, // mixed separators
		"12345678":    false,
		"":            false,
	} {
		if got := ValidSSN(s); got != want {
			t.Errorf("ValidSSN(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestValidEmail(t *testing.T) {
	for s, want := range map[string]bool{
		"info@presidio.site":          true,
		"a@xn--d1acufc.xn--p1ai":      true,
		"first.last+tag@mail.co":      true,
		"o'brien@example.ie":          true,
		"info@presidio.":              false,
		"info@presidio":               false,
		"@example.com":                false,
		"john.@example.com":           false,
		".john@example.com":           false,
		"jo..hn@example.com":          false,
		"john@@example.com":           false,
		"john@example.c":              false, // one-letter top-level domain
		"john@example.123":            false,
		"john@-example.com":           false,
		"john doe@example.com":        false,
		"john@exa_mple.com":           false,
		fmt.Sprintf("%065d@x.com", 0): false, // local part over 64 bytes
	} {
		if got := ValidEmail(s); got != want {
			t.Errorf("ValidEmail(%q) = %v, want %v", s, got, want)
		}
	}
}
