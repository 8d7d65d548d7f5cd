package detect

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// unfused wraps a detector so that the scanner does not recognize it as a
// built-in one and calls its Detect method through the interface, each
// detector reading the text on its own, as every scanner did before
// fireBuiltin.
type unfused struct{ Detector }

// legacyIBAN is the IBAN detector as it was triggered before: at the first
// letter of the country code rather than at the first check digit.
type legacyIBAN struct{ ibanDetector }

func (legacyIBAN) Triggers() []Trigger {
	return []Trigger{{Bytes: LetterBytes, Boundary: AfterNonWord, Lookahead: []string{LetterBytes, DigitBytes, DigitBytes}}}
}

func (legacyIBAN) Detect(text string, at int, dst []Span) []Span {
	// The trigger guarantees the boundary and the two letters that
	// ibanDetector.Detect, given the first check digit, checks again.
	return ibanDetector{}.Detect(text, at+2, dst)
}

// legacyPhone is the phone detector as it read a number starting with a
// digit before: with parsePhone, not from the shared digit groups.
type legacyPhone struct{ phoneDetector }

func (legacyPhone) Detect(text string, at int, dst []Span) []Span {
	if isDigit(text[at]) && at > 0 && (text[at-1] == '+' || text[at-1] == '(') {
		return dst
	}
	if inNumber(text, at) {
		return dst
	}
	if isDigit(text[at]) && !groupDigitsAtLeast(text, at, 9) {
		return dst
	}
	var p phoneShape
	end, ok := parsePhone(text, at, &p)
	if !ok {
		return dst
	}
	return appendPhone(text, at, end, &p, dst)
}

// legacyRegistry is the scanner as it was before the shared digit-run
// parse: the default detectors, in the same order, each called through
// the Detector interface and reading the text on its own, IBANs triggered
// at every letter that starts a word, phone numbers read with parsePhone.
// It is the reference TestFusedMatchesLegacy compares the scanner with,
// and the baseline of BenchmarkScanLegacy.
func legacyRegistry() *Registry {
	r := NewRegistry()
	for _, d := range builtinDetectors() {
		switch d.(type) {
		case ibanDetector:
			r.MustRegister(legacyIBAN{})
		case phoneDetector:
			r.MustRegister(legacyPhone{})
		default:
			r.MustRegister(unfused{d})
		}
	}
	return r
}

// scannerPairs returns the configurations of the goldens built on the
// default and on the legacy registry.
func scannerPairs(tb testing.TB) (names []string, fused, legacy []*Scanner) {
	tb.Helper()
	names, fused = goldenScanners(tb, DefaultRegistry())
	_, legacy = goldenScanners(tb, legacyRegistry())
	return names, fused, legacy
}

func TestFusedKinds(t *testing.T) {
	// Every built-in detector is recognized, and a wrapped one is not.
	for _, d := range builtinDetectors() {
		if kindOf(d) == kindOther {
			t.Errorf("%s: built-in detector not recognized", d.Name())
		}
		if kindOf(unfused{d}) != kindOther {
			t.Errorf("%s: wrapped detector taken for a built-in one", d.Name())
		}
	}
	s := MustNewScanner(DefaultRegistry())
	for k := 1; k < len(s.cells); k++ {
		if !s.cells[k].builtin {
			t.Errorf("cell %d of the default scanner not fused", k)
		}
	}
	legacy := MustNewScanner(legacyRegistry())
	for k := 1; k < len(legacy.cells); k++ {
		if legacy.cells[k].builtin {
			t.Errorf("cell %d of the legacy scanner fused", k)
		}
	}
	// A registry mixing built-in and custom detectors keeps the custom
	// one's findings.
	r := DefaultRegistry()
	r.MustRegister(orderDetector{})
	text := "PED-123456 no cartão 4111111111111111"
	if got, want := findings(text, MustNewScanner(r).Scan(text)), []string{"ORDER_ID:PED-123456", "CREDIT_CARD:4111111111111111"}; !slices.Equal(got, want) {
		t.Errorf("mixed registry: got %q, want %q", got, want)
	}
}

// TestFusedMatchesLegacy runs the scanner and the legacy one, in every
// configuration of the goldens, over the golden texts and more random
// text, and requires identical spans (entity, offsets, score, order). The
// goldens pin the output on their texts; this test adds texts and checks
// the legacy reference itself.
func TestFusedMatchesLegacy(t *testing.T) {
	names, fused, legacy := scannerPairs(t)
	_, texts := goldenTexts(t)
	r := rand.New(rand.NewPCG(0xf05e, 1))
	for range 20000 {
		texts = append(texts, randomNumericText(r, 4+r.IntN(200)))
	}
	if testing.Short() {
		texts = texts[len(texts)-2000:]
	}
	for _, text := range texts {
		for k := range fused {
			if got, want := fused[k].Scan(text), legacy[k].Scan(text); !slices.Equal(got, want) {
				t.Fatalf("%s scanner on %q:\n new    %v\n legacy %v", names[k], text, got, want)
			}
		}
	}
}

// FuzzFusedMatchesLegacy is TestFusedMatchesLegacy on fuzzed text:
//
//	go test -run '^$' -fuzz FuzzFusedMatchesLegacy -fuzztime 30s ./internal/detect/
func FuzzFusedMatchesLegacy(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed)
	}
	for _, p := range numericPieces {
		f.Add(p)
	}
	names, fused, legacy := scannerPairs(f)
	f.Fuzz(func(t *testing.T, text string) {
		for k := range fused {
			if got, want := fused[k].Scan(text), legacy[k].Scan(text); !slices.Equal(got, want) {
				t.Fatalf("%s scanner on %q:\n new    %v\n legacy %v", names[k], text, got, want)
			}
		}
	})
}

// FuzzPhoneDigits checks detectPhoneDigits, which reads a phone number
// from the shared digit groups, against parsePhone, which reads it from
// the text, at every digit that starts a run.
//
//	go test -run '^$' -fuzz FuzzPhoneDigits -fuzztime 30s ./internal/detect/
func FuzzPhoneDigits(f *testing.F) {
	for _, p := range numericPieces {
		f.Add(p)
	}
	f.Add("1 2 3 4 5 6 7 8 9")
	f.Add("1 2 3 4 5 6 7 8 9 0")
	f.Add("1234567890123456")
	f.Add("123456789012345")
	f.Add("11 98765-4321,5")
	f.Fuzz(func(t *testing.T, text string) {
		for at := 0; at < len(text); at++ {
			if !isDigit(text[at]) || (at > 0 && isDigit(text[at-1])) || !groupDigitsAtLeast(text, at, minLongRun) {
				continue
			}
			var want []Span
			if !(at > 0 && (text[at-1] == '+' || text[at-1] == '(')) && !inNumber(text, at) {
				var p phoneShape
				if end, ok := parsePhone(text, at, &p); ok {
					want = appendPhone(text, at, end, &p, nil)
				}
			}
			var g digitGroups
			g.parse(text, at)
			if got := detectPhoneDigits(text, at, &g, nil); !slices.Equal(got, want) {
				t.Fatalf("at %d of %q: groups %v, parsePhone %v", at, text, got, want)
			}
		}
	})
}

// BenchmarkScanLegacy is BenchmarkScan on the legacy scanner (see
// legacyRegistry): the same-run baseline of docs/benchmarks.md.
func BenchmarkScanLegacy(b *testing.B) {
	msgs, size, _ := benchMessages(b)
	s := MustNewScanner(legacyRegistry())
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var spans []Span
	for b.Loop() {
		for _, m := range msgs {
			spans = s.AppendScan(spans[:0], m)
		}
	}
}

// TestFusedSpansHoldNoText feeds canary values through the fused path
// (card, CPF, SSN, phone, IBAN, CNPJ, all digit-led or moved to a digit
// trigger) and checks that they are found where they are and appear in
// nothing the scanner returns: spans carry offsets only, whatever the
// path that produced them.
func TestFusedSpansHoldNoText(t *testing.T) {
	canaries := []struct {
		e     Entity
		value string
	}{
		{CreditCard, "4111 1111 1111 1111"},
		{CPF, "529.982.247-25"},
		{SSN, "536-22-1873"},
		{Phone, "(11) 98765-4321"},
		{IBAN, "GB82 WEST 1234 5698 7654 32"},
		{CNPJ, "11.222.333/0001-81"},
	}
	s := MustNewScanner(DefaultRegistry())
	for _, c := range canaries {
		text := "canary " + c.value + " end"
		spans := s.Scan(text)
		want := Span{c.e, len("canary "), len("canary ") + len(c.value), 0}
		if len(spans) != 1 || spans[0].Entity != want.Entity || spans[0].Start != want.Start || spans[0].End != want.End {
			t.Errorf("%s canary: spans %v, want one at [%d, %d)", c.e, spans, want.Start, want.End)
			continue
		}
		digits := Digits(c.value)
		for _, out := range []string{fmt.Sprint(spans), fmt.Sprintf("%+v", spans), fmt.Sprintf("%#v", spans)} {
			if strings.Contains(out, c.value) || strings.Contains(out, digits) || strings.Contains(out, digits[len(digits)-4:]+" ") {
				t.Errorf("%s canary appears in the scanner's output: %s", c.e, out)
			}
		}
	}
}
