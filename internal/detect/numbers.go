package detect

// numberDetector finds the entities written as runs of digit groups: card
// numbers (CREDIT_CARD), CPF numbers (BR_CPF) and Social Security numbers
// (US_SSN). It parses the groups once per run and tries each reading.
type numberDetector struct{}

func (numberDetector) Name() string { return "numbers" }

func (numberDetector) Entities() []Entity { return []Entity{CreditCard, CPF, SSN} }

func (numberDetector) Triggers() []Trigger {
	// Every reading starts with at least three digits, and has at least
	// nine, so its first six bytes are digits or separators.
	d, g := DigitBytes, DigitBytes+" -."
	return []Trigger{{Bytes: DigitBytes, Boundary: AfterNonDigit, Lookahead: []string{d, d, g, g, g}}}
}

// Scores of the readings. A checksum-validated value in its usual written
// form scores 1; a bare run that passes a checksum loses a little because
// other numbers of that length (phone numbers, order numbers) pass it by
// chance one time in a hundred; shapes without a checksum score lower and
// are raised by a nearby context word.
const (
	scoreChecked       = 1.0  // checksum and canonical shape
	scoreCheckedBare   = 0.8  // checksum, bare digits
	scoreSSNFormatted  = 0.85 // SSA rules, AAA-GG-SSSS
	scoreSSNBare       = 0.3  // SSA rules, nine bare digits
	scoreSSNWeak       = 0.05 // SSA rules, AAAGG-SSSS or AAA-GGSSSS
	scoreCardShortBare = 0.95 // Luhn and IIN, 13 or 14 bare digits
	scoreContextBoost  = 0.6  // added for a context word, capped at 1
)

// Limits of the digit-group parser and of card numbers.
const (
	maxGroups          = 12 // groups read in one run
	maxRunDigits       = 64 // digits read in one run
	minCardDigits      = 13 // ISO/IEC 7812: PANs have 8 to 19 digits; no scheme issues fewer than 13
	maxCardDigits      = 19
	cardGroupMinDigits = 3 // every group of a grouped card but the last
)

// digitGroups is a run of digit groups separated by single separators.
type digitGroups struct {
	n      int
	start  [maxGroups]int
	end    [maxGroups]int
	sep    [maxGroups]byte // separator before group k (0 for the first)
	digits int
}

// parse reads into g, which must be zero, the digit groups starting at i
// (a digit) separated by single spaces, hyphens or full stops; it stops
// after maxGroups groups or maxRunDigits digits. g is filled in place
// rather than returned: the struct is large enough for the copy to show in
// profiles.
func (g *digitGroups) parse(text string, i int) {
	j := i
	for g.n < maxGroups {
		e := digitRun(text, j)
		g.start[g.n], g.end[g.n] = j, e
		g.digits += e - j
		g.n++
		if g.n == maxGroups || g.digits > maxRunDigits || e+1 >= len(text) || !isDigit(text[e+1]) || !isGroupSep(text[e]) {
			break
		}
		g.sep[g.n] = text[e]
		j = e + 1
	}
}

// groupDigitsAtLeast reports whether the digit groups from i, separated by
// single spaces, hyphens or full stops, hold at least n digits. It reads
// no further than the n-th digit: the numeric detectors use it to leave
// short numbers (order numbers, amounts, years) before parsing them.
func groupDigitsAtLeast(text string, i, n int) bool {
	for {
		e := digitRun(text, i)
		if n -= e - i; n <= 0 {
			return true
		}
		if e+1 >= len(text) || !isGroupSep(text[e]) || !isDigit(text[e+1]) {
			return false
		}
		i = e + 1
	}
}

// isGroupSep reports whether c separates the groups of a written number.
func isGroupSep(c byte) bool { return c == ' ' || c == '-' || c == '.' }

func (g *digitGroups) len(k int) int { return g.end[k] - g.start[k] }

// appendDigits appends the digits of groups [0, k] to dst.
func (g *digitGroups) appendDigits(text string, k int, dst []byte) []byte {
	for m := 0; m <= k; m++ {
		dst = append(dst, text[g.start[m]:g.end[m]]...)
	}
	return dst
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

var (
	cpfContext = newLexicon(map[string]uint32{
		"cpf": 1, "cic": 1, "cadastro de pessoa física": 1, "cadastro de pessoas físicas": 1,
	})
	ssnContext = newLexicon(map[string]uint32{
		"ssn": 1, "ssns": 1, "social security": 1, "soc sec": 1, "seguro social": 1,
		"ss#": 1, "social security number": 1, "número de seguro social": 1,
	})
)

func (numberDetector) Detect(text string, at int, dst []Span) []Span {
	if !groupDigitsAtLeast(text, at, 9) {
		return dst // shorter than any SSN, CPF or card
	}
	var g digitGroups
	g.parse(text, at)
	return detectNumbers(text, at, &g, dst)
}

// detectNumbers is numberDetector.Detect on the digit groups g parsed at
// at, which hold at least nine digits. The scanner calls it with the parse
// it shares among the numeric detectors (see fireDigits).
func detectNumbers(text string, at int, g *digitGroups, dst []Span) []Span {
	// detectCard needs minCardDigits; the length test spares the run
	// checks on the many nine- to twelve-digit numbers.
	if g.digits >= minCardDigits && cardStart(text, at) && !inLongCode(text, at, g) {
		dst = detectCard(text, g, dst)
	}

	// CPF and SSN are read on the token: the groups up to the first space.
	// A token that continues an earlier number ("1.234.567.890-12" seen
	// from its second group) is not one.
	if at >= 2 && isDigit(text[at-2]) && (text[at-1] == '.' || text[at-1] == '-') {
		return dst
	}
	t := 0
	for t+1 < g.n && g.sep[t+1] != ' ' {
		t++
	}
	dst = detectCPF(text, g, t, dst)
	dst = detectSSN(text, g, t, at, dst)
	return dst
}

// detectCard looks for a card number made of the leading groups of g, all
// separated by the same separator (space, hyphen or full stop), every group
// but the last of at least three digits. The longest such prefix that is a
// valid PAN wins, so "4111 1111 1111 1111 12/27" yields the card and leaves
// the expiry date.
func detectCard(text string, g *digitGroups, dst []Span) []Span {
	// Longest prefix with one separator kind and proper groups.
	last := 0
	for k := 1; k < g.n; k++ {
		if g.sep[k] != g.sep[1] || g.len(k-1) < cardGroupMinDigits {
			break
		}
		last = k
	}
	var buf [maxRunDigits]byte
	total := 0
	var cum [maxGroups]int
	for k := 0; k <= last; k++ {
		total += g.len(k)
		cum[k] = total
	}
	for k := last; k >= 0; k-- {
		if cum[k] < minCardDigits {
			break
		}
		if cum[k] > maxCardDigits || !cardRemainder(text, g, k, last) {
			continue
		}
		if validPAN(g.appendDigits(text, k, buf[:0])) {
			score := scoreChecked
			if k == 0 && cum[0] <= 14 {
				// Bare 13- and 14-digit runs are also the length of other
				// national numbers (a CNPJ is 14 digits): a card reading
				// wins over them only on score, not by default.
				score = scoreCardShortBare
			}
			return append(dst, Span{CreditCard, g.start[0], g.end[k], score})
		}
	}
	return dst
}

// cardRemainder reports whether what follows a card made of groups [0, k]
// in a run whose groups go up to last is what follows a card in a pasted
// card block: nothing, a security code (one group of three or four
// digits), the month of an expiry date ("12/27"), or another bare card
// number. Anything else ("4379
// 6173 8075 9544 94", the first sixteen digits of a longer serial number
// that happen to pass Luhn) means the run is not a card.
func cardRemainder(text string, g *digitGroups, k, last int) bool {
	switch {
	case k == last:
		return true
	case k+1 != last:
		return false
	}
	n := g.len(last)
	if n == 3 || n == 4 || n >= minCardDigits {
		return true // a security code, or another card number
	}
	e := g.end[last]
	return n <= 2 && e+1 < len(text) && text[e] == '/' && isDigit(text[e+1])
}

// detectCPF reads the token g[0..t] as a CPF: 000.000.000-00, 000000000-00
// or eleven bare digits.
func detectCPF(text string, g *digitGroups, t int, dst []Span) []Span {
	var score float64
	switch {
	case t == 3 && g.len(0) == 3 && g.len(1) == 3 && g.len(2) == 3 && g.len(3) == 2 &&
		g.sep[1] == '.' && g.sep[2] == '.' && g.sep[3] == '-':
		score = scoreChecked
	case t == 1 && g.len(0) == 9 && g.len(1) == 2 && g.sep[1] == '-':
		score = scoreChecked
	case t == 0 && g.len(0) == 11 && isolatedRun(text, g.start[0], g.end[0]):
		score = scoreCheckedBare
	default:
		return dst
	}
	var buf [11]byte
	if !validCPFDigits(g.appendDigits(text, t, buf[:0])) {
		return dst
	}
	start, end := g.start[0], g.end[t]
	if score < 1 && contextNear(text, start, end, cpfContext) {
		score = min(1, score+scoreContextBoost)
	}
	return append(dst, Span{CPF, start, end, score})
}

// detectSSN reads a Social Security number: AAA-GG-SSSS or AAA.GG.SSSS (the
// token), AAA GG SSSS (a whole space-separated run), nine bare digits, and
// the two one-hyphen forms Presidio also accepts at a very low score.
func detectSSN(text string, g *digitGroups, t, at int, dst []Span) []Span {
	var score float64
	end := t
	switch {
	case t == 2 && g.len(0) == 3 && g.len(1) == 2 && g.len(2) == 4 &&
		(g.sep[1] == '-' || g.sep[1] == '.') && g.sep[2] == g.sep[1]:
		score = scoreSSNFormatted
	case t == 0 && g.n == 3 && g.len(0) == 3 && g.len(1) == 2 && g.len(2) == 4 &&
		g.sep[1] == ' ' && g.sep[2] == ' ' &&
		!(at >= 2 && text[at-1] == ' ' && isDigit(text[at-2])):
		score, end = scoreSSNFormatted, 2
	case t == 0 && g.len(0) == 9 && isolatedRun(text, g.start[0], g.end[0]):
		score = scoreSSNBare
	case t == 1 && g.sep[1] == '-' && (g.len(0) == 5 && g.len(1) == 4 || g.len(0) == 3 && g.len(1) == 6):
		score = scoreSSNWeak
	default:
		return dst
	}
	var buf [9]byte
	if !validSSNDigits(g.appendDigits(text, end, buf[:0])) {
		return dst
	}
	start, stop := g.start[0], g.end[end]
	if score < 1 && score > scoreSSNWeak && contextNear(text, start, stop, ssnContext) {
		score = min(1, score+scoreContextBoost)
	}
	return append(dst, Span{SSN, start, stop, score})
}

// isolatedRun reports whether the bare digit run [start, end) stands alone:
// not joined by a single space to other digits. An eleven- or fourteen-digit
// field of a bank slip line ("... 063305 9 84410000026035") passes a CPF or
// CNPJ check one time in a hundred; as part of a longer sequence it is not
// one.
func isolatedRun(text string, start, end int) bool {
	if start >= 2 && text[start-1] == ' ' && isDigit(text[start-2]) {
		return false
	}
	return !(end+1 < len(text) && text[end] == ' ' && isDigit(text[end+1]))
}

// cardStart reports whether a card number may start at at. Inside a run of
// digit groups ("... 063305 9 84410000026035", the fourth group of a
// tracking number) it may not: the run was read from its first group, and
// its inner windows pass Luhn one time in ten. The exception is a group
// that follows a complete card number or another card-length number, as
// in a list of cards separated by spaces.
func cardStart(text string, at int) bool {
	if at < 2 || !isDigit(text[at-2]) {
		return true
	}
	if text[at-1] != ' ' {
		return !(text[at-1] == '-' || text[at-1] == '.')
	}
	if cardEndsAt(text, at-1) {
		return true
	}
	digits := 0
	for j := at - 1; j > 0 && digits < minCardDigits &&
		(isDigit(text[j-1]) || ((text[j-1] == '-' || text[j-1] == '.') && digitAt(text, j-2))); j-- {
		if isDigit(text[j-1]) {
			digits++
		}
	}
	return digits >= minCardDigits
}

// longCodeDigits is the length beyond which a run of equal digit groups is a
// long code (an NF-e access key, a tracking number, a bank slip) rather than
// a card number, even followed by its security code.
const longCodeDigits = maxCardDigits + 4

// inLongCode reports whether the run of digit groups around at (g is the
// part from at on) is a long code: six or more groups, or five with more
// than longCodeDigits digits, all of one length except the last, joined by
// one separator kind. A card and its security code make at most five. Such codes contain many 16-digit windows, one in ten of
// which passes Luhn; none of them is a card. (A cost: two card numbers
// written back to back in groups of four, with nothing but a space between
// them, are not detected.)
func inLongCode(text string, at int, g *digitGroups) bool {
	if g.n < 2 && !(at >= 2 && isDigit(text[at-2])) {
		return false
	}
	sep := g.sep[1]
	size := g.len(0)
	groups, digits := 0, 0
	// Groups before at, joined by the same separator.
	for i := at; i >= 2 && isDigit(text[i-2]) && groups < maxGroups; {
		if sep == 0 {
			sep = text[i-1]
		}
		if text[i-1] != sep {
			break
		}
		j := i - 1
		for j > 0 && isDigit(text[j-1]) && i-1-j <= size {
			j--
		}
		if i-1-j != size || digitAt(text, j-1) {
			return false
		}
		groups++
		digits += size
		i = j
	}
	for k := 0; k < g.n; k++ {
		if k > 0 && g.sep[k] != sep {
			break
		}
		if g.len(k) != size && !(k == g.n-1 || (k+1 < g.n && g.sep[k+1] != sep)) {
			return false
		}
		groups++
		digits += g.len(k)
	}
	return groups >= 6 || (groups >= 5 && digits > longCodeDigits)
}
