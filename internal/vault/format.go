package vault

import (
	"bytes"
	"fmt"
	"io"
)

// Kind names what a value is ("card", "cvv", "cpf"...). The policy grants
// reveals per kind, and deterministic tokens and fingerprints are computed
// per kind, so the same digits tokenized as a phone number and as a card do
// not match. A kind is 1 to 32 characters of a-z, 0-9 and _, starting with
// a letter.
type Kind string

// Kinds the gateway's detectors and flows use. Any other valid name works.
const (
	KindCard     Kind = "card"     // payment card number (PAN)
	KindCVV      Kind = "cvv"      // card security code: sensitive authentication data, use RetainEphemeral
	KindExpiry   Kind = "expiry"   // card expiry date
	KindCPF      Kind = "cpf"      // Brazilian individual taxpayer number
	KindCNPJ     Kind = "cnpj"     // Brazilian company taxpayer number
	KindIBAN     Kind = "iban"     // international bank account number
	KindSSN      Kind = "ssn"      // US social security number
	KindEmail    Kind = "email"    // e-mail address
	KindPhone    Kind = "phone"    // telephone number
	KindPassword Kind = "password" // password or passphrase
	KindPIN      Kind = "pin"      // PIN or one-time code
)

func (k Kind) validate() error {
	if len(k) == 0 || len(k) > 32 || k[0] < 'a' || k[0] > 'z' {
		return invalid("kind must be 1-32 characters of a-z, 0-9 and _, starting with a letter")
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return invalid("kind must be 1-32 characters of a-z, 0-9 and _, starting with a letter")
		}
	}
	return nil
}

// Format selects the shape of a token.
type Format string

const (
	// FormatOpaque (the default) is "tok_" and 22 base58 characters
	// encoding 128 random bits (or, for a deterministic token, 128 bits of
	// PRF output). It says nothing about the value, not even its length.
	FormatOpaque Format = "opaque"
	// FormatCard is a format-preserving card token for [KindCard]: as many
	// digits as the card, the same separators at the same places, the same
	// last four digits, a valid Luhn check digit, and a first digit (the
	// configured card token prefix, default "9") that no payment scheme
	// issues, so the token is never a live card and is not detected as one.
	// The digits between the prefix and the last four are random, except
	// the one just before the last four, which is chosen to make the Luhn
	// sum come out right (the last digit, the card's own check digit, is
	// kept). At least six digits are random, so a 12-digit card still has
	// a million tokens per last four.
	FormatCard Format = "card"
	// FormatCPF is a format-preserving CPF token for [KindCPF]: nine random
	// digits and the two Receita Federal check digits computed over them,
	// written in the same layout as the value (bare, "000.000.000-00" or
	// "000000000-00"). A CPF token is indistinguishable from an issued CPF
	// by construction; treat it as one in downstream systems.
	FormatCPF Format = "cpf"
)

func (f Format) validate(k Kind) error {
	switch f {
	case FormatOpaque:
	case FormatCard:
		if k != KindCard {
			return invalid("format card applies to kind card only")
		}
	case FormatCPF:
		if k != KindCPF {
			return invalid("format cpf applies to kind cpf only")
		}
	default:
		return invalid("format must be opaque, card or cpf")
	}
	return nil
}

// opaquePrefix starts every opaque token.
const opaquePrefix = "tok_"

// opaqueLen is the number of base58 characters in an opaque token: the
// fewest that hold 128 bits (58^22 > 2^128).
const opaqueLen = 22

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58Fixed encodes 16 bytes as exactly 22 base58 digits, most
// significant first (a fixed width, unlike Bitcoin's variable-length
// encoding, so every token has the same length).
func base58Fixed(b [16]byte) string {
	num := b
	var out [opaqueLen]byte
	for i := opaqueLen - 1; i >= 0; i-- {
		rem := 0
		for j := range num {
			acc := rem<<8 | int(num[j])
			num[j] = byte(acc / 58)
			rem = acc % 58
		}
		out[i] = base58Alphabet[rem]
	}
	return string(out[:])
}

func opaqueToken(b [16]byte) string { return opaquePrefix + base58Fixed(b) }

// isOpaqueToken reports whether s has the shape of an opaque token.
func isOpaqueToken(s string) bool {
	if len(s) != len(opaquePrefix)+opaqueLen || s[:len(opaquePrefix)] != opaquePrefix {
		return false
	}
	for i := len(opaquePrefix); i < len(s); i++ {
		if bytes.IndexByte([]byte(base58Alphabet), s[i]) < 0 {
			return false
		}
	}
	return true
}

// readDigits draws n uniformly distributed decimal digits (ASCII) from
// src by rejection sampling: bytes of 250 and above are discarded, so
// every digit has probability exactly 1/10.
func readDigits(src io.Reader, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		if _, err := io.ReadFull(src, buf[:]); err != nil {
			return nil, fmt.Errorf("vault: random digits: %w", err)
		}
		for _, b := range buf {
			if b < 250 && len(out) < n {
				out = append(out, '0'+b%10)
			}
		}
	}
	return out, nil
}

// luhnSum is the ISO/IEC 7812-1 Annex B sum of ASCII digits d, doubling
// every second digit from the right starting with the second.
func luhnSum(d []byte) int {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if (len(d)-1-i)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum
}

func luhnValid(d []byte) bool { return len(d) > 1 && luhnSum(d)%10 == 0 }

// layout is a value's shape: its digits, and the positions of everything
// else, so a format-preserving token can be written the same way.
type layout struct {
	template []byte // the value with every digit replaced by 'd'
	digits   []byte
}

func (l layout) render(digits []byte) string {
	out := make([]byte, len(l.template))
	j := 0
	for i, c := range l.template {
		if c == 'd' {
			out[i] = digits[j]
			j++
		} else {
			out[i] = c
		}
	}
	return string(out)
}

// cardLayout accepts 12 to 19 digits, optionally grouped by spaces or by
// dashes (one kind, single, not at either end), with a valid Luhn digit.
func cardLayout(v []byte) (layout, error) {
	bad := invalid("a card token needs 12 to 19 digits, optionally grouped by single spaces or dashes, with a valid Luhn check digit")
	l := layout{template: make([]byte, len(v))}
	var sep byte
	for i, c := range v {
		switch {
		case c >= '0' && c <= '9':
			l.digits = append(l.digits, c)
			l.template[i] = 'd'
		case c == ' ' || c == '-':
			if i == 0 || i == len(v)-1 || l.template[i-1] != 'd' || (sep != 0 && c != sep) {
				return layout{}, bad
			}
			sep = c
			l.template[i] = c
		default:
			return layout{}, bad
		}
	}
	if len(l.digits) < 12 || len(l.digits) > 19 || !luhnValid(l.digits) {
		return layout{}, bad
	}
	return l, nil
}

// cpfLayout accepts the three ways a CPF is written: 11 bare digits,
// "000000000-00" and "000.000.000-00", with valid check digits.
func cpfLayout(v []byte) (layout, error) {
	bad := invalid("a CPF token needs a valid CPF written 00000000000, 000000000-00 or 000.000.000-00")
	var tmpl string
	switch len(v) {
	case 11:
		tmpl = "ddddddddddd"
	case 12:
		tmpl = "ddddddddd-dd"
	case 14:
		tmpl = "ddd.ddd.ddd-dd"
	default:
		return layout{}, bad
	}
	l := layout{template: []byte(tmpl)}
	for i, c := range v {
		if tmpl[i] == 'd' {
			if c < '0' || c > '9' {
				return layout{}, bad
			}
			l.digits = append(l.digits, c)
		} else if c != tmpl[i] {
			return layout{}, bad
		}
	}
	if !cpfValid(l.digits) {
		return layout{}, bad
	}
	return l, nil
}

// cpfCheck computes the Receita Federal check digit over d (9 or 10
// digits): weights n+1 down to 2, 11 minus the remainder mod 11, or 0 when
// the remainder is below 2.
func cpfCheck(d []byte) byte {
	n := len(d)
	sum := 0
	for i, c := range d {
		sum += int(c-'0') * (n + 1 - i)
	}
	r := sum % 11
	if r < 2 {
		return '0'
	}
	return byte('0' + 11 - r)
}

func allSame(d []byte) bool {
	for _, c := range d[1:] {
		if c != d[0] {
			return false
		}
	}
	return true
}

func cpfValid(d []byte) bool {
	return len(d) == 11 && !allSame(d) && cpfCheck(d[:9]) == d[9] && cpfCheck(d[:10]) == d[10]
}

// cardTokenDigits builds a card token's digits: prefix, random digits, the
// Luhn compensation digit, and the card's last four.
func cardTokenDigits(card []byte, prefix string, src io.Reader) ([]byte, error) {
	free := len(card) - len(prefix) - 5
	if free < minCardRandomDigits {
		return nil, invalid("card too short for a format-preserving token with this prefix")
	}
	r, err := readDigits(src, free)
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 0, len(card))
	tok = append(tok, prefix...)
	tok = append(tok, r...)
	tok = append(tok, '0')
	tok = append(tok, card[len(card)-4:]...)
	// The compensation digit sits fifth from the right, a position Luhn
	// does not double, so it adds its own value to the sum.
	tok[len(tok)-5] = byte('0' + (10-luhnSum(tok)%10)%10)
	return tok, nil
}

// minCardRandomDigits is the least number of random digits a card token
// carries.
const minCardRandomDigits = 6

// cpfTokenDigits draws a valid CPF at random.
func cpfTokenDigits(src io.Reader) ([]byte, error) {
	for {
		d, err := readDigits(src, 9)
		if err != nil {
			return nil, err
		}
		if allSame(d) {
			continue
		}
		d = append(d, cpfCheck(d))
		return append(d, cpfCheck(d)), nil
	}
}

// canonical returns the bytes fingerprints are computed over: for kinds
// whose values are written with optional separators (cards, CPF, CNPJ),
// the value without spaces, dots, dashes and slashes, so "4111 1111 1111
// 1111" and "4111111111111111" are the same card; the value itself
// otherwise.
func canonical(k Kind, v []byte) []byte {
	switch k {
	case KindCard, KindCPF, KindCNPJ:
		out := make([]byte, 0, len(v))
		for _, c := range v {
			switch c {
			case ' ', '.', '-', '/':
			default:
				out = append(out, c)
			}
		}
		return out
	}
	return v
}

// validCardTokenPrefix checks Config.CardTokenPrefix: 1 to 6 digits.
func validCardTokenPrefix(p string) error {
	if len(p) < 1 || len(p) > 6 {
		return invalid("card token prefix must be 1 to 6 digits")
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return invalid("card token prefix must be 1 to 6 digits")
		}
	}
	return nil
}
