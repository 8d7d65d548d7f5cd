package detect

// This file holds the stand-alone validators. They are the same checks the
// scanner runs on its candidates, exported so that other packages (the flow
// language validating typed input, the vault formatting tokens) apply exactly
// one definition of "a valid card number", "a valid CPF", and so on.
//
// Every validator is a pure function of its argument, allocation-free, and
// safe for concurrent use. None of them logs or returns the value it checks.

// Digits returns s with every byte that is not an ASCII digit removed.
// It allocates only when s contains something other than digits.
func Digits(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	if n == len(s) {
		return s
	}
	b := make([]byte, 0, n)
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// ValidCard reports whether s is a plausible payment card number (PAN): 13
// to 19 ASCII digits, optionally grouped by single spaces or single dashes
// (one separator kind per number, never leading or trailing), whose issuer
// identification number belongs to a known brand (see [CardBrand]), whose
// length is one that brand issues, and whose last digit is the Luhn check
// digit (ISO/IEC 7812-1 Annex B).
func ValidCard(s string) bool {
	var buf [19]byte
	d, ok := groupedDigits(s, buf[:0], 13, 19)
	if !ok {
		return false
	}
	return validPAN(d)
}

// validPAN is ValidCard on a bare digit string.
func validPAN(d []byte) bool {
	if len(d) < 13 || len(d) > 19 || !luhn(d) {
		return false
	}
	b := cardBrand(d)
	return b != brandUnknown && b.acceptsLength(len(d))
}

// groupedDigits appends to dst the digits of s, which must consist of
// between minDigits and maxDigits ASCII digits separated by at most one
// space or dash at a time, all separators of the same kind. It reports false
// for anything else, including leading or trailing separators.
func groupedDigits(s string, dst []byte, minDigits, maxDigits int) ([]byte, bool) {
	var sep byte
	prevSep := true // forbids a leading separator
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			if len(dst) == maxDigits {
				return dst, false
			}
			dst = append(dst, c)
			prevSep = false
		case c == ' ' || c == '-':
			if prevSep || (sep != 0 && c != sep) {
				return dst, false
			}
			sep, prevSep = c, true
		default:
			return dst, false
		}
	}
	return dst, !prevSep && len(dst) >= minDigits
}

// luhn reports whether the ASCII digit string d ends in a correct Luhn
// (mod 10, "double-add-double") check digit, per ISO/IEC 7812-1 Annex B.
func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// CardBrand names the card scheme that issues the digit string digits,
// judged by its issuer identification number (the leading digits) alone; it
// does not check the length or the Luhn digit (use [ValidCard] for that). It
// returns "" when digits contains anything other than ASCII digits or when
// the prefix belongs to no scheme below.
//
// Results: "visa", "mastercard", "amex", "discover", "jcb", "diners", "elo",
// "hipercard", "unionpay", and, for prefixes other widely deployed schemes
// own, "maestro", "dankort" and "uatp". Brazilian schemes (Elo, Hipercard)
// are matched first because several of their BINs sit inside ranges
// historically assigned to Visa, Discover or Maestro. Six digits are needed
// to tell those apart; with fewer, the broader scheme is returned.
func CardBrand(digits string) string {
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			return ""
		}
	}
	return cardBrand([]byte(digits)).String()
}

// ValidCPF reports whether s is a valid Brazilian CPF (Cadastro de Pessoas
// Físicas) number, written bare ("12345678909"), fully punctuated
// ("123.456.789-09") or with only the check-digit dash ("123456789-09").
// The two check digits are verified with the Receita Federal algorithm
// (weights 10..2 then 11..2, remainder mod 11, below 2 gives 0), and numbers
// made of one repeated digit ("111.111.111-11"), which pass the arithmetic
// but are never issued, are rejected.
func ValidCPF(s string) bool {
	var buf [11]byte
	d, ok := cpfDigits(s, buf[:0])
	return ok && validCPFDigits(d)
}

// cpfDigits extracts the 11 digits of a CPF written in one of the forms
// ValidCPF accepts.
func cpfDigits(s string, dst []byte) ([]byte, bool) {
	switch len(s) {
	case 11: // 12345678909
	case 12: // 123456789-09
		if s[9] != '-' {
			return dst, false
		}
	case 14: // 123.456.789-09
		if s[3] != '.' || s[7] != '.' || s[11] != '-' {
			return dst, false
		}
	default:
		return dst, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isDigit(c) {
			dst = append(dst, c)
		} else if c != '.' && c != '-' {
			return dst, false
		}
	}
	return dst, len(dst) == 11
}

// validCPFDigits checks the Receita Federal check digits of 11 ASCII digits.
func validCPFDigits(d []byte) bool {
	if len(d) != 11 || allSame(d) {
		return false
	}
	for n := 9; n <= 10; n++ { // n digits feed the check digit at index n
		sum := 0
		for i := 0; i < n; i++ {
			sum += int(d[i]-'0') * (n + 1 - i)
		}
		if mod11Check(sum) != int(d[n]-'0') {
			return false
		}
	}
	return true
}

// mod11Check is the Receita Federal check-digit rule shared by CPF and CNPJ:
// 11 minus the remainder of sum by 11, or 0 when the remainder is 0 or 1.
func mod11Check(sum int) int {
	r := sum % 11
	if r < 2 {
		return 0
	}
	return 11 - r
}

// ValidCNPJ reports whether s is a valid Brazilian CNPJ (Cadastro Nacional da
// Pessoa Jurídica), written bare ("11222333000181") or punctuated
// ("11.222.333/0001-81").
//
// Both the classic all-numeric form and the alphanumeric form that the
// Receita Federal issues from July 2026 (Instrução Normativa RFB nº
// 2.229/2024) are accepted: the first twelve characters may be ASCII digits
// or upper-case letters A-Z, the last two are always digits. Each character
// is valued as its ASCII code minus 48 (so '0'..'9' are 0..9 and 'A'..'Z' are
// 17..42), the weights run 2..9 from the right and cycle, and each check digit
// is 11 minus the weighted sum mod 11 (0 when the remainder is 0 or 1). For
// numeric CNPJs this is exactly the historical rule. Lower-case letters are
// rejected, as the Receita Federal specifies upper case; a caller normalizing
// user input may upper-case it first. Numbers made of one repeated character
// are rejected.
func ValidCNPJ(s string) bool {
	var buf [14]byte
	d, ok := cnpjChars(s, buf[:0])
	return ok && validCNPJChars(d)
}

// cnpjChars extracts the 14 characters of a CNPJ written in one of the forms
// ValidCNPJ accepts.
func cnpjChars(s string, dst []byte) ([]byte, bool) {
	switch len(s) {
	case 14: // 112223330001 81
	case 18: // 11.222.333/0001-81
		if s[2] != '.' || s[6] != '.' || s[10] != '/' || s[15] != '-' {
			return dst, false
		}
	default:
		return dst, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c) || isUpper(c):
			dst = append(dst, c)
		case c == '.' || c == '/' || c == '-':
		default:
			return dst, false
		}
	}
	return dst, len(dst) == 14
}

// validCNPJChars checks the check digits of 14 CNPJ characters (the first 12
// digits or upper-case letters, the last 2 digits).
func validCNPJChars(d []byte) bool {
	if len(d) != 14 || !isDigit(d[12]) || !isDigit(d[13]) || allSame(d) {
		return false
	}
	for n := 12; n <= 13; n++ { // n characters feed the check digit at index n
		sum, w := 0, 2
		for i := n - 1; i >= 0; i-- {
			sum += int(d[i]-'0') * w
			if w++; w > 9 {
				w = 2
			}
		}
		if mod11Check(sum) != int(d[n]-'0') {
			return false
		}
	}
	return true
}

// ValidIBAN reports whether s is a valid International Bank Account Number
// (ISO 13616-1) in electronic form ("DE89370400440532013000") or paper form
// (groups of four separated by single spaces, "DE89 3704 0044 0532 0130 00").
// The country code must be one the SWIFT IBAN registry lists, the length must
// be that country's IBAN length, the BBAN must follow the country's
// structure (digits, letters or either, per position) and the whole must
// satisfy the ISO 7064 MOD 97-10 check (remainder 1). Letters must be upper
// case, as ISO 13616 prescribes.
func ValidIBAN(s string) bool {
	var buf [maxIBANLen]byte
	d, ok := ibanChars(s, buf[:0])
	return ok && validIBANChars(d)
}

// ibanChars strips the single spaces of the paper form, which may appear
// only every four characters.
func ibanChars(s string, dst []byte) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			// Paper form: a space only after each complete group of four.
			if len(dst) == 0 || len(dst)%4 != 0 || i+1 == len(s) || s[i+1] == ' ' {
				return dst, false
			}
			continue
		}
		if !isDigit(c) && !isUpper(c) || len(dst) == maxIBANLen {
			return dst, false
		}
		dst = append(dst, c)
	}
	return dst, true
}

// validIBANChars validates an IBAN in electronic form (no spaces, upper case).
func validIBANChars(d []byte) bool {
	if len(d) < 15 || len(d) > maxIBANLen {
		return false
	}
	if !isUpper(d[0]) || !isUpper(d[1]) || !isDigit(d[2]) || !isDigit(d[3]) {
		return false
	}
	f, ok := ibanFormats[[2]byte{d[0], d[1]}]
	if !ok || !f.matches(d[4:]) {
		return false
	}
	return ibanMod97(d) == 1
}

// ibanMod97 computes the ISO 7064 MOD 97-10 remainder of an IBAN: the first
// four characters move to the end and letters become two digits (A=10 ..
// Z=35). The running remainder keeps every intermediate value below 10^4.
func ibanMod97(d []byte) int {
	r := 0
	step := func(c byte) {
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	for _, c := range d[4:] {
		step(c)
	}
	for _, c := range d[:4] {
		step(c)
	}
	return r
}

// ValidSSN reports whether s is a US Social Security number that the Social
// Security Administration could have issued, written as nine bare digits
// ("AAAGGSSSS") or in three groups with one separator kind, "AAA-GG-SSSS",
// "AAA GG SSSS" or "AAA.GG.SSSS".
//
// Following the SSA's numbering rules (Program Operations Manual System
// RM 10201.035 and the 2011 randomization notice): the area number is never
// 000, 666 or 900-999; the group number is never 00; the serial number is
// never 0000. Numbers the SSA or the industry has published as examples and
// that therefore never identify a person are also rejected: 078-05-1120 (the
// 1938 Woolworth wallet card), 219-09-9999 (a 1940 SSA pamphlet),
// 123-45-6789, and numbers of one repeated digit.
func ValidSSN(s string) bool {
	var buf [9]byte
	var d []byte
	switch len(s) {
	case 9:
		d = buf[:0]
		for i := 0; i < 9; i++ {
			if !isDigit(s[i]) {
				return false
			}
			d = append(d, s[i])
		}
	case 11:
		sep := s[3]
		if (sep != '-' && sep != ' ' && sep != '.') || s[6] != sep {
			return false
		}
		d = buf[:0]
		for i := 0; i < 11; i++ {
			if i == 3 || i == 6 {
				continue
			}
			if !isDigit(s[i]) {
				return false
			}
			d = append(d, s[i])
		}
	default:
		return false
	}
	return validSSNDigits(d)
}

// validSSNDigits applies the SSA rules to nine ASCII digits.
func validSSNDigits(d []byte) bool {
	if len(d) != 9 {
		return false
	}
	area := int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
	group := int(d[3]-'0')*10 + int(d[4]-'0')
	serial := int(d[5]-'0')*1000 + int(d[6]-'0')*100 + int(d[7]-'0')*10 + int(d[8]-'0')
	switch {
	case area == 0 || area == 666 || area >= 900:
		return false
	case group == 0 || serial == 0:
		return false
	case allSame(d):
		return false
	}
	switch string(d) {
	case "078051120", "219099999", "123456789":
		return false
	}
	return true
}

// ValidEmail reports whether s is an e-mail address of the form people write
// in chat: a dot-atom local part (RFC 5322 §3.4.1: letters, digits and
// !#$%&'*+/=?^_`{|}~- separated by single dots, at most 64 bytes), "@", and
// a DNS host name (RFC 1035 labels of letters, digits and inner hyphens, each
// at most 63 bytes, at least two labels, at most 253 bytes) whose top-level
// label is alphabetic with at least two letters or an IDNA A-label
// ("xn--p1ai"). Quoted local parts and address literals ("user@[192.0.2.1]")
// are valid RFC 5321 syntax but are not accepted: they do not occur in chat
// and accepting them would widen what the scanner flags.
func ValidEmail(s string) bool {
	at := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at < 1 {
		return false
	}
	return localPartLen(s[:at]) == at && hostLen(s[at+1:]) == len(s)-at-1
}

// localPartLen returns the length of the longest valid dot-atom local part
// that ends at the end of s (scanning backwards), or 0 if none does.
func localPartLen(s string) int {
	if len(s) == 0 || s[len(s)-1] == '.' {
		return 0
	}
	n := 0
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c == '.' {
			if s[i+1] == '.' {
				break
			}
		} else if !isAtext(c) {
			break
		}
		n++
	}
	// A local part starts with an atext character, not a dot.
	for n > 0 && s[len(s)-n] == '.' {
		n--
	}
	if n > 64 {
		return 0
	}
	return n
}

// hostLen returns the length of the longest valid host name at the start of
// s (see ValidEmail), or 0 if there is none. A trailing dot or hyphen that
// cannot belong to the name is left out, so "mail me at a@b.com." stops
// before the sentence's full stop.
func hostLen(s string) int {
	s = s[:min(len(s), maxDomainName+1)]
	end, labels := 0, 0 // end: length of the valid name so far
	for i := 0; i < len(s); {
		// One label: [A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?
		j := i
		alpha := true
		for j < len(s) && (isAlnum(s[j]) || s[j] == '-') {
			alpha = alpha && (isLetter(s[j]))
			j++
		}
		for j > i && s[j-1] == '-' {
			j--
		}
		if j == i || s[i] == '-' || j-i > 63 {
			break
		}
		labels++
		if labels >= 2 {
			tld := s[i:j]
			if (alpha && len(tld) >= 2) || (len(tld) > 4 && hasPrefixFold(tld, "xn--")) {
				end = j
			}
		}
		if j+1 < len(s) && s[j] == '.' && isAlnum(s[j+1]) {
			i = j + 1
			continue
		}
		break
	}
	if end > maxDomainName {
		return 0
	}
	return end
}

func isDigit(c byte) bool  { return c-'0' < 10 }
func isUpper(c byte) bool  { return c-'A' < 26 }
func isLower(c byte) bool  { return c-'a' < 26 }
func isLetter(c byte) bool { return isUpper(c) || isLower(c) }
func isAlnum(c byte) bool  { return isDigit(c) || isLetter(c) }

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool {
	if isAlnum(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '/', '=', '?', '^', '_', '`', '{', '|', '}', '~', '-':
		return true
	}
	return false
}

// allSame reports whether every byte of d equals the first.
func allSame(d []byte) bool {
	for _, c := range d[1:] {
		if c != d[0] {
			return false
		}
	}
	return true
}

// hasPrefixFold is an ASCII case-insensitive strings.HasPrefix.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != lowerASCII(prefix[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}
