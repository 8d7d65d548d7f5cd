package detect

import (
	"fmt"
	"strconv"
)

// maxIBANLen is the longest IBAN ISO 13616 allows (34 characters).
const maxIBANLen = 34

// ibanSpecs is the IBAN structure per country, transcribed from the SWIFT
// IBAN Registry (the ISO 13616 registration authority's list, 2025). Each
// entry is the country's BBAN structure in the registry's own notation: a
// count, "!" for a fixed length, and a class, n = digits 0-9, a = upper-case
// letters A-Z, c = upper-case letters or digits. The IBAN is the two-letter
// country code, two check digits and this BBAN; its length, which the
// registry also lists, is checked against the sum at start-up and by
// TestIBANSpecs. The peer suite holds a valid and several invalid IBANs for
// 76 of these countries.
var ibanSpecs = map[string]struct {
	length int
	bban   string
}{
	"AD": {24, "4!n4!n12!c"},
	"AE": {23, "3!n16!n"},
	"AL": {28, "8!n16!c"},
	"AT": {20, "5!n11!n"},
	"AZ": {28, "4!a20!c"},
	"BA": {20, "3!n3!n8!n2!n"},
	"BE": {16, "3!n7!n2!n"},
	"BG": {22, "4!a4!n2!n8!c"},
	"BH": {22, "4!a14!c"},
	"BI": {27, "5!n5!n11!n2!n"},
	"BR": {29, "8!n5!n10!n1!a1!c"},
	"BY": {28, "4!c4!n16!c"},
	"CH": {21, "5!n12!c"},
	"CR": {22, "4!n14!n"},
	"CY": {28, "3!n5!n16!c"},
	"CZ": {24, "4!n6!n10!n"},
	"DE": {22, "8!n10!n"},
	"DJ": {27, "5!n5!n11!n2!n"},
	"DK": {18, "4!n9!n1!n"},
	"DO": {28, "4!c20!n"},
	"EE": {20, "2!n2!n11!n1!n"},
	"EG": {29, "4!n4!n17!n"},
	"ES": {24, "4!n4!n1!n1!n10!n"},
	"FI": {18, "3!n11!n"},
	"FK": {18, "2!a12!n"},
	"FO": {18, "4!n9!n1!n"},
	"FR": {27, "5!n5!n11!c2!n"},
	"GB": {22, "4!a6!n8!n"},
	"GE": {22, "2!a16!n"},
	"GI": {23, "4!a15!c"},
	"GL": {18, "4!n9!n1!n"},
	"GR": {27, "3!n4!n16!c"},
	"GT": {28, "4!c20!c"},
	"HN": {28, "4!a20!n"},
	"HR": {21, "7!n10!n"},
	"HU": {28, "3!n4!n1!n15!n1!n"},
	"IE": {22, "4!a6!n8!n"},
	"IL": {23, "3!n3!n13!n"},
	"IQ": {23, "4!a3!n12!n"},
	"IS": {26, "4!n2!n6!n10!n"},
	"IT": {27, "1!a5!n5!n12!c"},
	"JO": {30, "4!a4!n18!c"},
	"KW": {30, "4!a22!c"},
	"KZ": {20, "3!n13!c"},
	"LB": {28, "4!n20!c"},
	"LC": {32, "4!a24!c"},
	"LI": {21, "5!n12!c"},
	"LT": {20, "5!n11!n"},
	"LU": {20, "3!n13!c"},
	"LV": {21, "4!a13!c"},
	"LY": {25, "3!n3!n15!n"},
	"MC": {27, "5!n5!n11!c2!n"},
	"MD": {24, "2!c18!c"},
	"ME": {22, "3!n13!n2!n"},
	"MK": {19, "3!n10!c2!n"},
	"MN": {20, "4!n12!n"},
	"MR": {27, "5!n5!n11!n2!n"},
	"MT": {31, "4!a5!n18!c"},
	"MU": {30, "4!a2!n2!n12!n3!n3!a"},
	"NI": {28, "4!a20!n"},
	"NL": {18, "4!a10!n"},
	"NO": {15, "4!n6!n1!n"},
	"OM": {23, "3!n16!c"},
	"PK": {24, "4!a16!c"},
	"PL": {28, "8!n16!n"},
	"PS": {29, "4!a21!c"},
	"PT": {25, "4!n4!n11!n2!n"},
	"QA": {29, "4!a21!c"},
	"RO": {24, "4!a16!c"},
	"RS": {22, "3!n13!n2!n"},
	"RU": {33, "9!n5!n15!c"},
	"SA": {24, "2!n18!c"},
	"SC": {31, "4!a2!n2!n16!n3!a"},
	"SD": {18, "2!n12!n"},
	"SE": {24, "3!n16!n1!n"},
	"SI": {19, "5!n8!n2!n"},
	"SK": {24, "4!n6!n10!n"},
	"SM": {27, "1!a5!n5!n12!c"},
	"SO": {23, "4!n3!n12!n"},
	"ST": {25, "4!n4!n11!n2!n"},
	"SV": {28, "4!a20!n"},
	"TL": {23, "3!n14!n2!n"},
	"TN": {24, "2!n3!n13!n2!n"},
	"TR": {26, "5!n1!n16!c"},
	"UA": {29, "6!n19!c"},
	"VA": {22, "3!n15!n"},
	"VG": {24, "4!a16!n"},
	"XK": {20, "4!n10!n2!n"},
	"YE": {30, "4!a4!n18!c"},
}

// ibanFormat is a compiled BBAN structure: one class byte ('n', 'a' or 'c')
// per BBAN position.
type ibanFormat struct {
	classes string
}

// matches reports whether bban (upper case, no spaces) has the structure.
func (f ibanFormat) matches(bban []byte) bool {
	if len(bban) != len(f.classes) {
		return false
	}
	for i, c := range bban {
		switch f.classes[i] {
		case 'n':
			if !isDigit(c) {
				return false
			}
		case 'a':
			if !isUpper(c) {
				return false
			}
		default: // 'c'
			if !isDigit(c) && !isUpper(c) {
				return false
			}
		}
	}
	return true
}

// ibanFormats is ibanSpecs compiled, keyed by country code.
var ibanFormats = compileIBANSpecs()

func compileIBANSpecs() map[[2]byte]ibanFormat {
	m := make(map[[2]byte]ibanFormat, len(ibanSpecs))
	for cc, spec := range ibanSpecs {
		classes, err := expandBBAN(spec.bban)
		if err != nil {
			panic(fmt.Sprintf("detect: IBAN spec %s: %v", cc, err))
		}
		if 4+len(classes) != spec.length {
			panic(fmt.Sprintf("detect: IBAN spec %s: BBAN %q gives length %d, registry says %d",
				cc, spec.bban, 4+len(classes), spec.length))
		}
		m[[2]byte{cc[0], cc[1]}] = ibanFormat{classes: classes}
	}
	return m
}

// expandBBAN turns registry notation ("4!a6!n8!n") into one class per
// position ("aaaannnnnnnnnnnnnn").
func expandBBAN(spec string) (string, error) {
	var out []byte
	for i := 0; i < len(spec); {
		j := i
		for j < len(spec) && isDigit(spec[j]) {
			j++
		}
		if j == i || j+1 >= len(spec) || spec[j] != '!' {
			return "", fmt.Errorf("malformed at %d", i)
		}
		n, err := strconv.Atoi(spec[i:j])
		if err != nil {
			return "", err
		}
		class := spec[j+1]
		if class != 'n' && class != 'a' && class != 'c' {
			return "", fmt.Errorf("unknown class %q", class)
		}
		for range n {
			out = append(out, class)
		}
		i = j + 2
	}
	if len(out) > maxIBANLen-4 {
		return "", fmt.Errorf("BBAN too long")
	}
	return string(out), nil
}

// ibanDetector finds IBANs (IBAN_CODE) in electronic form or in groups of
// four separated by single spaces or single hyphens (one kind per IBAN).
// Letters must be all upper case or, as people type on phones, all lower
// case; mixed case is rejected ("LV80 bANK ..."), as in Presidio.
type ibanDetector struct{}

func (ibanDetector) Name() string { return "iban" }

func (ibanDetector) Entities() []Entity { return []Entity{IBAN} }

// Triggers places the trigger on the first check digit, after the two
// letters of the country code, rather than on the first letter: nearly
// every word starts with a letter, and a trigger there made the scanner
// stop at every word start, while a digit after two letters is rare in
// chat. Detect checks the word boundary before the country code itself.
func (ibanDetector) Triggers() []Trigger {
	return []Trigger{{Bytes: DigitBytes, Boundary: AfterNonDigit,
		Lookbehind: []string{LetterBytes, LetterBytes}, Lookahead: []string{DigitBytes}}}
}

const (
	scoreIBAN      = 1.0
	scoreIBANLower = 0.85 // valid once upper-cased
)

func (ibanDetector) Detect(text string, at int, dst []Span) []Span {
	// at is the first check digit: the IBAN starts at the country code,
	// at the start of a word.
	if at < 2 || (at > 2 && byteClass[text[at-3]] != classOther) {
		return dst
	}
	at -= 2
	// Country code and check digits: two letters of one case, two digits.
	if len(text)-at < 15 || !isDigit(text[at+2]) || !isDigit(text[at+3]) {
		return dst
	}
	lower := isLower(text[at])
	if lower != isLower(text[at+1]) || !isLetter(text[at+1]) {
		return dst
	}
	cc := [2]byte{upperASCII(text[at]), upperASCII(text[at+1])}
	f, ok := ibanFormats[cc]
	if !ok {
		return dst
	}
	want := 4 + len(f.classes)
	var buf [maxIBANLen]byte
	d := append(buf[:0], cc[0], cc[1], text[at+2], text[at+3])
	i := at + 4
	var sep byte // 0 while in electronic form
	for len(d) < want && i < len(text) {
		c := text[i]
		if len(d)%4 == 0 {
			// A group boundary: the paper form has its separator here.
			isSep := c == ' ' || c == '-'
			switch {
			case len(d) == 4 && isSep:
				sep = c
			case sep != 0 && c != sep:
				return dst // paper form with an irregular group
			case sep == 0 && isSep:
				return dst // electronic form that turns into groups
			}
			if sep != 0 {
				i++
				if i == len(text) {
					return dst
				}
				c = text[i]
			}
		}
		switch {
		case isDigit(c):
		case isLetter(c) && isLower(c) == lower:
			c = upperASCII(c)
		default:
			return dst
		}
		d = append(d, c)
		i++
	}
	// The IBAN must end here, not in the middle of a word or a group.
	if len(d) != want || alnumAt(text, i) {
		return dst
	}
	if !f.matches(d[4:]) || ibanMod97(d) != 1 {
		return dst
	}
	score := scoreIBAN
	if lower {
		score = scoreIBANLower
	}
	return append(dst, Span{IBAN, at, i, score})
}

func upperASCII(c byte) byte {
	if isLower(c) {
		return c - ('a' - 'A')
	}
	return c
}
