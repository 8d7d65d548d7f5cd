package detect

// cnpjDetector finds CNPJ numbers (BR_CNPJ), numeric or alphanumeric, either
// punctuated (12.ABC.345/01DE-35) or bare (12ABC34501DE35). See ValidCNPJ for
// the check-digit rule.
type cnpjDetector struct{}

func (cnpjDetector) Name() string { return "cnpj" }

func (cnpjDetector) Entities() []Entity { return []Entity{CNPJ} }

func (cnpjDetector) Triggers() []Trigger {
	du := DigitBytes + UpperBytes
	look := []string{du, du + ".", du, du} // "12.A", "12AB": 14 characters follow
	return []Trigger{
		{Bytes: DigitBytes, Boundary: AfterNonDigit, Lookahead: look},
		{Bytes: UpperBytes, Boundary: AfterNonWord, Lookahead: look},
	}
}

var cnpjContext = newLexicon(map[string]uint32{
	"cnpj": 1, "cgc": 1, "cadastro nacional da pessoa jurídica": 1,
})

// scoreCNPJUnusualOrder is the score of a bare numeric CNPJ whose
// establishment order is 0100 or more, without context: below
// DefaultMinScore.
const scoreCNPJUnusualOrder = 0.4

// cnpjMask is the punctuated shape: c is a character of the number.
const cnpjMask = "cc.ccc.ccc/cccc-cc"

func (cnpjDetector) Detect(text string, at int, dst []Span) []Span {
	if at >= 2 && alnumAt(text, at-2) && containsByte(".-/", text[at-1]) {
		return dst // continues an earlier token
	}
	var buf [14]byte
	d := buf[:0]
	end := at
	letters := false
	// Punctuated form first, then bare.
	if len(text)-at >= len(cnpjMask) && text[at+2] == '.' {
		for k := 0; k < len(cnpjMask); k++ {
			c := text[at+k]
			if cnpjMask[k] != 'c' {
				if c != cnpjMask[k] {
					return dst
				}
				continue
			}
			if !isDigit(c) && !isUpper(c) {
				return dst
			}
			letters = letters || isUpper(c)
			d = append(d, c)
		}
		end = at + len(cnpjMask)
	} else {
		for end < len(text) && len(d) < 14 && (isDigit(text[end]) || isUpper(text[end])) {
			letters = letters || isUpper(text[end])
			d = append(d, text[end])
			end++
		}
	}
	if len(d) != 14 || alnumAt(text, end) || (letters && at > 0 && isLetter(text[at-1])) {
		return dst
	}
	if !validCNPJChars(d) {
		return dst
	}
	score := scoreChecked
	if end-at == 14 {
		if !isolatedRun(text, at, end) {
			return dst
		}
		// Characters 9-12 number the establishment: 0001 for the head
		// office, then its branches. A bare numeric run whose order does
		// not start with 00 is far more often a serial or an account
		// number that passes the check by chance (one in a hundred), so it
		// needs the word "CNPJ" nearby.
		score = scoreCheckedBare
		if !letters && (d[8] != '0' || d[9] != '0') {
			score = scoreCNPJUnusualOrder
		}
		if contextNear(text, at, end, cnpjContext) {
			score = scoreChecked
		}
	}
	return append(dst, Span{CNPJ, at, end, score})
}
