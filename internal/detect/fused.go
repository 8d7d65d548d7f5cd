package detect

import "math/bits"

// Fused dispatch of the built-in detectors.
//
// At a digit that follows a non-digit, up to seven built-in detectors can
// trigger: numbers (cards, CPF, SSN), CNPJ, IBAN (its first check digit),
// phone, IP, crypto ("1", "3") and the card block of the context detector
// (an expiry date or security code after a card). Called one by one
// through the Detector interface, each re-reads the same digit run to
// reject it, and on chat text nearly every run is rejected (order numbers,
// amounts, dates, times). A cell
// whose detectors are all built in is fired instead by fireBuiltin: it
// reads the digit run once (its length, and its groups only when it holds
// the nine digits the longest readings need), gives each selected detector
// what it needs of that parse, and calls the detectors' code directly
// rather than through the interface. The detectors' own Detect methods
// remain, and compute the same thing from scratch: a scanner built from
// wrapped or custom detectors uses them. TestScanGolden pins the output
// recorded before this dispatch existed, and TestFusedMatchesLegacy and
// FuzzFusedMatchesLegacy compare it, on any text, with that earlier
// scanner, kept in the tests (legacyRegistry).

// builtinKind identifies a built-in detector in a cell, so that the
// scanner can call its code without an interface call. kindOther is any
// other Detector, called through the interface.
type builtinKind uint8

const (
	kindOther builtinKind = iota
	kindNumbers
	kindCNPJ
	kindIBAN
	kindPhone
	kindIP
	kindEmail
	kindCrypto
	kindContext
)

// kindOf returns the kind of d. Only the unexported built-in types match,
// so a caller's detector, even one embedding a built-in, is kindOther.
func kindOf(d Detector) builtinKind {
	switch d.(type) {
	case numberDetector:
		return kindNumbers
	case cnpjDetector:
		return kindCNPJ
	case ibanDetector:
		return kindIBAN
	case phoneDetector:
		return kindPhone
	case ipDetector:
		return kindIP
	case emailDetector:
		return kindEmail
	case cryptoDetector:
		return kindCrypto
	case contextDetector:
		return kindContext
	}
	return kindOther
}

// minLongRun is the fewest digits of the readings that need the digit
// groups parsed: an SSN or a CPF (nine or more), a card, a phone number
// written without "+" or "(" (see detectNumbers and detectPhoneDigits).
const minLongRun = 9

// fireBuiltin calls the detectors of m (all of known kinds) at i. Spans
// are appended in the order of the cell's detectors, as fire does, so that
// the result is the same whichever path ran.
func (c *cell) fireBuiltin(text string, i int, m uint8, dst []Span) []Span {
	if !isDigit(text[i]) {
		for ; m != 0; m &= m - 1 {
			dst = callBuiltin(c.kinds[bits.TrailingZeros8(m)], text, i, dst)
		}
		return dst
	}
	// A digit: read the run once. Its first group and the byte after it
	// decide most cases; the groups are parsed only when the run holds
	// the digits of the longest readings.
	run := digitRun(text, i) - i
	next := byteAt(text, i+run)
	if m&c.long != 0 {
		if run >= minLongRun || (isGroupSep(next) && groupDigitsAtLeast(text, i, minLongRun)) {
			var g digitGroups
			g.parse(text, i)
			return c.fireDigits(text, i, run, next, m, &g, dst)
		}
		m &^= c.long
	}
	return c.fireDigits(text, i, run, next, m, nil, dst)
}

// fireDigits calls the detectors of m at the digit i, whose first group
// has run digits and is followed by next (0 at the end of text). g is the
// digit groups parsed at i, or nil if they hold fewer than minLongRun
// digits (m then selects no detector that needs them). Each case first
// rejects, from run and next alone, the runs on which the detector would
// find nothing; the detector's own code then decides the rest.
func (c *cell) fireDigits(text string, i, run int, next byte, m uint8, g *digitGroups, dst []Span) []Span {
	for ; m != 0; m &= m - 1 {
		switch k := c.kinds[bits.TrailingZeros8(m)]; k {
		case kindNumbers:
			dst = detectNumbers(text, i, g, dst)
		case kindPhone:
			dst = detectPhoneDigits(text, i, g, dst)
		case kindCNPJ:
			// Bare, a CNPJ is 14 digits or upper-case letters; punctuated,
			// its third character is a full stop.
			if run >= 14 || isUpper(next) || byteAt(text, i+2) == '.' {
				dst = cnpjDetector{}.Detect(text, i, dst)
			}
		case kindIP:
			// An address has a ":" or "." within its first five
			// characters, all hexadecimal digits before it.
			if run < 5 && (next == '.' || next == ':' || isHex(next)) {
				dst = ipDetector{}.Detect(text, i, dst)
			}
		case kindCrypto:
			// A Base58 address is 26 to 35 Base58 characters: the digit
			// run is all of it or is followed by more.
			if run >= 26 || base58Value[next] >= 0 {
				dst = cryptoDetector{}.Detect(text, i, dst)
			}
		case kindContext:
			// After a card: a month (one or two digits) and its
			// separator, or a security code (three or four digits) that
			// ends there.
			if (run <= 2 && (next == '/' || next == '-' || next == '.' || next == ' ')) ||
				((run == 3 || run == 4) && !isWordByte(next)) {
				dst = cardBlockRun(text, i, run, dst)
			}
		default:
			dst = callBuiltin(k, text, i, dst)
		}
	}
	return dst
}

// callBuiltin calls the Detect method of the built-in detector of kind k.
// The tests are in order of frequency on chat text (the context detector's
// anchors start at most word starts), as a chain of compares: a switch here
// compiled to a jump table, whose indirect jump mispredicted.
func callBuiltin(k builtinKind, text string, i int, dst []Span) []Span {
	if k == kindContext {
		return contextDetector{}.Detect(text, i, dst)
	}
	if k == kindIP {
		return ipDetector{}.Detect(text, i, dst)
	}
	if k == kindCNPJ {
		return cnpjDetector{}.Detect(text, i, dst)
	}
	if k == kindIBAN {
		return ibanDetector{}.Detect(text, i, dst)
	}
	if k == kindCrypto {
		return cryptoDetector{}.Detect(text, i, dst)
	}
	if k == kindPhone {
		return phoneDetector{}.Detect(text, i, dst)
	}
	if k == kindEmail {
		return emailDetector{}.Detect(text, i, dst)
	}
	if k == kindNumbers {
		return numberDetector{}.Detect(text, i, dst)
	}
	panic("detect: callBuiltin on a detector of unknown kind")
}

// byteAt returns text[i], or 0 past the end of text.
func byteAt(text string, i int) byte {
	if i < len(text) {
		return text[i]
	}
	return 0
}
