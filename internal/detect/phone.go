package detect

import "strings"

// phoneDetector finds telephone numbers (PHONE_NUMBER) by their written
// shape, without a numbering-plan database: international numbers with "+"
// and a valid ITU-T E.164 country calling code, North American (NANP)
// numbers, Brazilian numbers with a valid DDD area code, national numbers
// with a trunk prefix 0 (Europe, Israel, Japan), and a few bare forms at a
// low score. It deliberately rejects the shapes of dates, amounts, postal
// codes (CEP) and IP addresses.
type phoneDetector struct{}

func (phoneDetector) Name() string { return "phone" }

func (phoneDetector) Entities() []Entity { return []Entity{Phone} }

func (phoneDetector) Triggers() []Trigger {
	group := DigitBytes + " -."
	return []Trigger{
		{Bytes: "+", Boundary: AfterNonWord, Lookahead: []string{DigitBytes}},
		{Bytes: "(", Boundary: AfterNonWord, Lookahead: []string{DigitBytes, DigitBytes}},
		// At least nine digits, at most one separator between groups: the
		// first six bytes are digits or separators.
		{Bytes: DigitBytes, Boundary: AfterNonWord, Lookahead: []string{group, group, group, group, group}},
	}
}

// Scores by shape; see Detect.
const (
	scorePhoneIntl    = 0.75 // "+" and a valid calling code
	scorePhoneStrong  = 0.7  // (area) number, NANP, BR with DDD
	scorePhoneTrunk   = 0.5  // national with trunk prefix 0
	scorePhoneLocalBR = 0.4  // 9XXXX-XXXX, Brazilian mobile without area code
	scorePhoneWeak    = 0.3  // bare mobile runs, other groupings
	scorePhoneContext = 0.3  // added for a context word
	maxPhoneGroups    = 8
	maxPhoneDigits    = 15 // E.164
)

var phoneContext = newLexicon(map[string]uint32{
	"phone": 1, "telephone": 1, "tel": 1, "mobile": 1, "cell": 1, "call": 1,
	"whatsapp": 1, "zap": 1, "telefone": 1, "celular": 1, "fone": 1, "cel": 1, "ligar": 1,
	"ligue": 1, "contato": 1, "teléfono": 1, "móvil": 1, "llamar": 1,
	"llame": 1, "contacto": 1, "whats": 1,
})

// phoneShape is a parsed candidate.
type phoneShape struct {
	plus   bool
	paren  int // index of the parenthesized group, -1 if none
	n      int // groups
	glen   [maxPhoneGroups]int
	sep    [maxPhoneGroups]byte // separator before group k; ')' after a closing parenthesis
	digits [maxPhoneDigits]byte
	nd     int
}

func (phoneDetector) Detect(text string, at int, dst []Span) []Span {
	if isDigit(text[at]) {
		if !groupDigitsAtLeast(text, at, 9) {
			// Without "+" or "(", every shape classify accepts has nine
			// digits or more: leave short numbers before parsing them.
			return dst
		}
		var g digitGroups
		g.parse(text, at)
		return detectPhoneDigits(text, at, &g, dst)
	}
	if inNumber(text, at) {
		return dst
	}
	var p phoneShape
	end, ok := parsePhone(text, at, &p)
	if !ok {
		return dst
	}
	return appendPhone(text, at, end, &p, dst)
}

// inNumber reports whether at follows a digit and a group separator: the
// middle of a longer number, read from its start.
func inNumber(text string, at int) bool {
	return at >= 2 && (text[at-1] == '-' || text[at-1] == '.' || text[at-1] == ' ') && isDigit(text[at-2])
}

// detectPhoneDigits reads a phone number that starts with the digit at at
// from g, the digit groups parsed there, which hold at least nine digits.
// It is what parsePhone reads from a digit: parsePhone's groups are g's
// (digits separated by single spaces, hyphens or full stops), and it fails
// exactly when there are more than maxPhoneGroups of them or more than
// maxPhoneDigits digits, in which case g was not cut short either (g stops
// only after maxGroups groups or maxRunDigits digits).
func detectPhoneDigits(text string, at int, g *digitGroups, dst []Span) []Span {
	if at > 0 && (text[at-1] == '+' || text[at-1] == '(') {
		return dst // handled from the "+" or "("
	}
	if inNumber(text, at) || g.n > maxPhoneGroups || g.digits > maxPhoneDigits {
		return dst
	}
	end := g.end[g.n-1]
	if !phoneEnds(text, end) {
		return dst
	}
	p := phoneShape{paren: -1, n: g.n}
	for k := 0; k < g.n; k++ {
		p.glen[k], p.sep[k] = g.len(k), g.sep[k]
	}
	p.nd = len(g.appendDigits(text, g.n-1, p.digits[:0]))
	return appendPhone(text, at, end, &p, dst)
}

// appendPhone scores the parsed shape p of text[at:end] and appends it if
// it is a phone number.
func appendPhone(text string, at, end int, p *phoneShape, dst []Span) []Span {
	score := p.classify()
	if score == 0 {
		return dst
	}
	if score < scorePhoneIntl && contextNear(text, at, end, phoneContext) {
		score = min(0.9, score+scorePhoneContext)
	}
	return append(dst, Span{Phone, at, end, score})
}

// phoneEnds reports whether a phone number may end at i: not glued to a
// word, and not a decimal, a fraction or a time ("1.234,56", "12/03",
// "10:30").
func phoneEnds(text string, i int) bool {
	if wordAt(text, i) {
		return false
	}
	return !(i+1 < len(text) && strings.IndexByte(",/:", text[i]) >= 0 && isDigit(text[i+1]))
}

// parsePhone reads digit groups from at: an optional "+", then up to
// maxPhoneGroups groups of digits separated by one space, hyphen or full
// stop, one of which (the first or, after a "+", the second) may be in
// parentheses. It fails on more than maxPhoneDigits digits and when the
// number runs into a word, a fraction or a decimal.
func parsePhone(text string, at int, p *phoneShape) (end int, ok bool) {
	i := at
	p.paren = -1
	if text[i] == '+' {
		p.plus = true
		i++
		if !digitAt(text, i) {
			return 0, false
		}
	}
	for p.n < maxPhoneGroups {
		start := i
		paren := false
		if i < len(text) && text[i] == '(' {
			if p.paren >= 0 || p.n > 1 || (p.n == 1 && !p.plus) {
				return 0, false
			}
			paren = true
			i++
		}
		j := digitRun(text, i)
		if j == i || p.nd+(j-i) > maxPhoneDigits {
			return 0, false
		}
		p.nd += copy(p.digits[p.nd:], text[i:j])
		p.glen[p.n] = j - i
		i = j
		if paren {
			if i >= len(text) || text[i] != ')' || j-start-1 > 4 {
				return 0, false
			}
			p.paren = p.n
			i++
		}
		p.n++
		// Separator to the next group.
		glued := paren && digitAt(text, i)
		sep := i+1 < len(text) && (text[i] == ' ' || text[i] == '-' || text[i] == '.') &&
			(isDigit(text[i+1]) || (text[i+1] == '(' && p.plus && p.n == 1))
		if (glued || sep) && p.n == maxPhoneGroups {
			return 0, false // more groups than any phone number has
		}
		if glued {
			p.sep[p.n] = ')'
			continue
		}
		if sep {
			p.sep[p.n] = text[i]
			if paren {
				p.sep[p.n] = ')'
			}
			i++
			continue
		}
		break
	}
	if !phoneEnds(text, i) {
		return 0, false
	}
	return i, true
}

// classify returns the score of the shape, 0 if it is not a phone number.
func (p *phoneShape) classify() float64 {
	d := p.digits[:p.nd]
	switch {
	case p.plus:
		cc := callingCodeLen(d)
		if cc == 0 || p.nd < 8 {
			return 0
		}
		nsn := d[cc:]
		switch string(d[:cc]) {
		case "1":
			if len(nsn) != 10 || !nanp(nsn) {
				return 0
			}
		case "55":
			if !brazilian(nsn) {
				return 0
			}
		default:
			if len(nsn) < 6 || len(nsn) > 13 {
				return 0
			}
		}
		return scorePhoneIntl
	case p.paren == 0:
		if p.nd < 9 || p.nd > 12 || p.n < 2 {
			return 0
		}
		switch {
		case p.glen[0] == 3 && p.nd == 10 && nanp(d):
		case p.glen[0] == 2 && brazilian(d):
		case d[0] == '0' && p.glen[0] >= 2:
		default:
			return 0
		}
		return scorePhoneStrong
	case p.n == 1:
		// Bare runs: Chinese mobiles 1[3-9]x{9}, Brazilian mobiles with DDD.
		if p.nd == 11 && d[0] == '1' && d[1] >= '3' {
			return scorePhoneWeak
		}
		if p.nd == 11 && brazilian(d) {
			return scorePhoneWeak
		}
		return 0
	}
	sameSep := true
	for k := 2; k < p.n; k++ {
		sameSep = sameSep && p.sep[k] == p.sep[1]
	}
	switch {
	case sameSep && p.n == 3 && p.glen[0] == 3 && p.glen[1] == 3 && p.glen[2] == 4 && nanp(d):
		return scorePhoneStrong // 415-555-0132
	case sameSep && p.n == 4 && d[0] == '1' && p.glen[0] == 1 && p.glen[1] == 3 && p.glen[2] == 3 &&
		p.glen[3] == 4 && nanp(d[1:]):
		return scorePhoneStrong // 1-800-555-0199
	case p.n == 3 && p.glen[0] == 2 && (p.glen[1] == 4 || p.glen[1] == 5) && p.glen[2] == 4 &&
		p.sep[2] == '-' && brazilian(d):
		return scorePhoneStrong // 11 98456-5666
	case p.n == 2 && p.glen[0] == 5 && p.glen[1] == 4 && d[0] == '9' && p.sep[1] == '-':
		return scorePhoneLocalBR // 98456-5666
	case d[0] == '0' && p.nd >= 9 && p.nd <= 12 && minGroup(p) >= 2 && p.sep[1] != '.':
		return scorePhoneTrunk // 09-7625400, 090-1234-5678, 020 7123 4567
	case p.n >= 3 && p.nd >= 10 && p.nd <= 13 && p.glen[0] <= 3 && p.glen[p.n-1] >= 3 &&
		minGroup(p) >= 2 && maxGroup(p) <= 4 && sameSep:
		return scorePhoneWeak // 91-415-555-0132
	}
	return 0
}

func minGroup(p *phoneShape) int {
	m := p.glen[0]
	for k := 1; k < p.n; k++ {
		m = min(m, p.glen[k])
	}
	return m
}

func maxGroup(p *phoneShape) int {
	m := p.glen[0]
	for k := 1; k < p.n; k++ {
		m = max(m, p.glen[k])
	}
	return m
}

// nanp reports whether the ten digits d are a North American Numbering Plan
// number: area code and exchange code both NXX (N = 2-9), exchange not N11.
func nanp(d []byte) bool {
	return len(d) == 10 && d[0] >= '2' && d[3] >= '2' && !(d[4] == '1' && d[5] == '1')
}

// brazilian reports whether d is a Brazilian national number: a valid DDD
// area code (Anatel) and an eight-digit landline (first digit 2-5) or a
// nine-digit mobile (first digit 9).
func brazilian(d []byte) bool {
	if len(d) != 10 && len(d) != 11 || !validDDD(d[0], d[1]) {
		return false
	}
	if len(d) == 11 {
		return d[2] == '9'
	}
	return d[2] >= '2' && d[2] <= '5'
}

// validDDD reports whether the two digits are an Anatel area code (DDD).
func validDDD(a, b byte) bool {
	if !isDigit(a) || !isDigit(b) || a == '0' || b == '0' {
		return false
	}
	const valid = "" +
		"111213141516171819" +
		"2122242728" +
		"31323334353738" +
		"414243444546474849" +
		"51535455" +
		"616263646566676869" +
		"717374757779" +
		"818283848586878889" +
		"919293949596979899"
	for i := 0; i+1 < len(valid); i += 2 {
		if valid[i] == a && valid[i+1] == b {
			return true
		}
	}
	return false
}

// callingCodeLen returns the length (1-3) of the ITU-T E.164 country calling
// code d starts with, or 0 if d starts with no assigned code. Source: ITU-T
// "List of ITU-T Recommendation E.164 assigned country codes" (2023).
func callingCodeLen(d []byte) int {
	if len(d) < 3 {
		return 0
	}
	return int(callingCodes[int(d[0]-'0')*100+int(d[1]-'0')*10+int(d[2]-'0')])
}

// callingCodes maps every three-digit prefix to the length of the calling
// code it starts with (0: unassigned).
var callingCodes = func() (t [1000]uint8) {
	for p := 100; p < 200; p++ {
		t[p] = 1 // +1, North American Numbering Plan
	}
	for p := 700; p < 800; p++ {
		t[p] = 1 // +7, Russia and Kazakhstan
	}
	for _, c := range strings.Fields(callingCodes2) {
		base := 10 * atoi(c)
		for p := base; p < base+10; p++ {
			t[p] = 2
		}
	}
	for _, c := range strings.Fields(callingCodes3) {
		t[atoi(c)] = 3
	}
	return t
}()

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

const callingCodes2 = "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 " +
	"60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98"

const callingCodes3 = "211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 " +
	"230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 247 248 249 " +
	"250 251 252 253 254 255 256 257 258 260 261 262 263 264 265 266 267 268 269 290 291 297 298 299 " +
	"350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 375 376 377 378 379 380 381 382 383 " +
	"385 386 387 389 420 421 423 " +
	"500 501 502 503 504 505 506 507 508 509 590 591 592 593 594 595 596 597 598 599 " +
	"670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 687 688 689 690 691 692 " +
	"800 808 850 852 853 855 856 870 878 880 881 882 883 886 888 " +
	"960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 976 977 979 991 992 993 994 995 996 998"
