package detect

import (
	"strings"
	"unicode/utf8"
)

// Masks replace a detected span in what an agent sees. Each keeps only the
// part of the value an agent legitimately needs to talk about it ("the card
// ending in 1111") and never anything else: a mask is computed from the
// matched text but contains at most the characters listed below, and for
// values too short to mask safely it degrades to the bare label.
//
//	CREDIT_CARD   [card ••••1111]            last four digits (MaskCard: optionally the first six)
//	BR_CPF        [cpf •••.•••.•••-09]       the two check digits
//	BR_CNPJ       [cnpj ••.•••.•••/••••-35]  the two check digits
//	IBAN_CODE     [iban DE•• •••• 3000]      country code and last four characters
//	US_SSN        [ssn]                      nothing: the last four serve as an authenticator
//	EMAIL_ADDRESS [email j•••@example.com]   first character of the local part, and the domain
//	PHONE_NUMBER  [phone ••••0132]           last four digits
//	IP_ADDRESS    [ip]                       nothing
//	CRYPTO        [crypto ••••BoyZ]          last four characters (addresses are public, but linkable)
//	CVV           [cvv]                      nothing (PCI DSS: never displayed)
//	CARD_EXPIRY   [expiry]                   nothing
//	PIN           [pin]                      nothing
//	PASSWORD      [password]                 nothing
//	OTP           [otp]                      nothing
//
// Other entities (registered by callers) mask as their lower-cased name in
// brackets, with nothing of the value.

// Bullet is the character masks use in place of hidden characters.
const Bullet = "•"

// Mask returns the masked form of matched, a value detected as e. It never
// returns more of matched than the table above allows.
func Mask(e Entity, matched string) string {
	switch e {
	case CreditCard:
		return MaskCard(matched, false)
	case CPF:
		return maskTail("cpf", "•••.•••.•••-", matched, 11, 2)
	case CNPJ:
		return maskTailAlnum("cnpj", "••.•••.•••/••••-", matched, 14, 2)
	case IBAN:
		return maskIBAN(matched)
	case SSN:
		return "[ssn]"
	case Email:
		return maskEmail(matched)
	case Phone:
		return maskTail("phone", "••••", matched, 8, 4)
	case IPAddress:
		return "[ip]"
	case Crypto:
		return maskTailAlnum("crypto", "••••", matched, 26, 4)
	case CVV:
		return "[cvv]"
	case CardExpiry:
		return "[expiry]"
	case PIN:
		return "[pin]"
	case Password:
		return "[password]"
	case OTP:
		return "[otp]"
	}
	return "[" + strings.ToLower(string(e)) + "]"
}

// MaskCard masks a card number, showing its last four digits and, if
// firstSix is true and the number has at least 16 digits, also its first
// six (the issuer BIN), the most PCI DSS 4.0 requirement 3.4.1 allows to be
// displayed. Shorter numbers never show their first six: with only three to
// five digits hidden, Luhn would make them guessable.
func MaskCard(matched string, firstSix bool) string {
	var buf [maxRunDigits]byte
	d := buf[:0]
	for i := 0; i < len(matched) && len(d) < len(buf); i++ {
		if isDigit(matched[i]) {
			d = append(d, matched[i])
		}
	}
	if len(d) < minCardDigits {
		return "[card]"
	}
	last := string(d[len(d)-4:])
	if firstSix && len(d) >= 16 {
		return "[card " + string(d[:6]) + strings.Repeat(Bullet, len(d)-10) + last + "]"
	}
	return "[card " + strings.Repeat(Bullet, 4) + last + "]"
}

// maskTail shows the last keep digits of matched after hidden, if matched has
// at least minDigits digits.
func maskTail(label, hidden, matched string, minDigits, keep int) string {
	var buf [maxRunDigits]byte
	d := buf[:0]
	for i := 0; i < len(matched) && len(d) < len(buf); i++ {
		if isDigit(matched[i]) {
			d = append(d, matched[i])
		}
	}
	if len(d) < minDigits {
		return "[" + label + "]"
	}
	return "[" + label + " " + hidden + string(d[len(d)-keep:]) + "]"
}

// maskTailAlnum is maskTail counting ASCII letters and digits.
func maskTailAlnum(label, hidden, matched string, minChars, keep int) string {
	var buf [maxIBANLen + 64]byte
	d := buf[:0]
	for i := 0; i < len(matched) && len(d) < len(buf); i++ {
		if isAlnum(matched[i]) {
			d = append(d, matched[i])
		}
	}
	if len(d) < minChars {
		return "[" + label + "]"
	}
	return "[" + label + " " + hidden + string(d[len(d)-keep:]) + "]"
}

func maskIBAN(matched string) string {
	var buf [maxIBANLen]byte
	d := buf[:0]
	for i := 0; i < len(matched) && len(d) < len(buf); i++ {
		if isAlnum(matched[i]) {
			d = append(d, upperASCII(matched[i]))
		}
	}
	if len(d) < 15 || !isLetter(d[0]) || !isLetter(d[1]) {
		return "[iban]"
	}
	return "[iban " + string(d[:2]) + "•• •••• " + string(d[len(d)-4:]) + "]"
}

func maskEmail(matched string) string {
	at := strings.LastIndexByte(matched, '@')
	if at < 1 || at == len(matched)-1 {
		return "[email]"
	}
	r, size := utf8.DecodeRuneInString(matched)
	if r == utf8.RuneError || size >= at {
		// A one-character local part would be shown whole.
		return "[email " + Bullet + "@" + matched[at+1:] + "]"
	}
	return "[email " + matched[:size] + "•••@" + matched[at+1:] + "]"
}
