package detect

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzScan checks the scanner's contract on arbitrary input: no panic;
// spans within the text, non-empty, on character boundaries, sorted and
// non-overlapping; scores in (0, 1]; the same result from Scan and from
// AppendScan after other spans; and masks that never reproduce the value.
//
//	go test -run x -fuzz FuzzScan -fuzztime 60s ./internal/detect/
func FuzzScan(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed)
	}
	s := MustNewScanner(DefaultRegistry(), WithMinScore(0))
	known := map[Entity]bool{}
	for _, e := range DefaultRegistry().Entities() {
		known[e] = true
	}
	f.Fuzz(func(t *testing.T, text string) {
		spans := s.Scan(text)
		prevEnd := 0
		for i, sp := range spans {
			if sp.Start < prevEnd || sp.Start >= sp.End || sp.End > len(text) {
				t.Fatalf("span %d %+v: out of order, empty or out of bounds (previous end %d, len %d)", i, sp, prevEnd, len(text))
			}
			if !utf8.RuneStart(text[sp.Start]) || (sp.End < len(text) && !utf8.RuneStart(text[sp.End])) {
				t.Fatalf("span %d %+v cuts a character", i, sp)
			}
			if sp.Score <= 0 || sp.Score > 1 || !known[sp.Entity] {
				t.Fatalf("span %d %+v: bad score or entity", i, sp)
			}
			m := text[sp.Start:sp.End]
			// A mask reproduces the value if it contains it and depends on
			// it: a fixed label ("[password]") that happens to contain a
			// value found in it ("sword") reveals nothing.
			if masked := Mask(sp.Entity, m); len(m) >= 5 && strings.Contains(masked, m) &&
				masked != Mask(sp.Entity, strings.Repeat("#", len(m))) {
				t.Fatalf("mask %q of %s reproduces the value", masked, sp.Entity)
			}
			prevEnd = sp.End
		}
		prefix := []Span{{Entity: CVV, Start: 0, End: 1, Score: 1}}
		again := s.AppendScan(prefix, text)
		if len(again) != len(spans)+1 || again[0] != prefix[0] {
			t.Fatalf("AppendScan changed the prefix or the count: %v vs %v", again, spans)
		}
		for i := range spans {
			if again[i+1] != spans[i] {
				t.Fatalf("AppendScan differs from Scan at %d: %+v vs %+v", i, again[i+1], spans[i])
			}
		}
	})
}

// fuzzSeeds start the fuzzer from inputs that reach every detector and the
// edges between them; testdata/fuzz/FuzzScan holds more.
var fuzzSeeds = []string{
	"",
	"my card is 4111 1111 1111 1111 12/27 123",
	"cartão 5555-5555-5555-4444, validade 12/2027, cvv 123",
	"meu cpf é 123.456.789-09 e o cnpj 12.ABC.345/01DE-35",
	"IBAN DE89 3704 0044 0532 0130 00 / gb82west12345698765432",
	"ssn 078-05-1123 or 078051121",
	"joão.silva@example.com.br, user@xn--80ak6aa92e.com",
	"(11) 98765-4321 +55 11 98456 5666 +1 415 555 0132 090-1234-5678",
	"192.168.0.1/24 fe80::1%eth0/64 ::ffff:192.0.2.1 [2001:db8::1]:8080 ::",
	"16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
	"minha senha é \"Abc@1234\" e mi contraseña es «correcto caballo» — password: hunter2.",
	"código de verificação 839 201, pin 4821, código de segurança 1234",
	"23793.38128 60007.827136 95000.063305 9 84410000026035",
	"3524 0312 3456 7800 0190 5500 1000 0012 3410 0000 1234",
	"\xc3\x28 4111111111111111 \xff@\x80a.com senha: \x80\x80abc1",
	strings.Repeat("1", 300) + "@" + strings.Repeat("a.", 200),
	strings.Repeat("1 ", 100) + strings.Repeat(":", 50) + strings.Repeat("ab:", 50),
}
