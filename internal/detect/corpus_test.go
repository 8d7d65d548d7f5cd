package detect

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// The ordinary-chat corpus: a seeded generator of realistic customer
// messages in Portuguese, English and Spanish, built from the templates in
// testdata/corpus_templates.txt. Ordinary slots (order and protocol numbers,
// amounts, dates, tracking codes, bank slips, NF-e keys, Luhn-invalid digit
// runs...) must not be detected; planted slots are secrets whose spans are
// known. TestCorpus measures precision and recall per entity.

const (
	corpusLines     = 6000
	corpusSeed1     = 0x5ec0_7e1d
	corpusSeed2     = 2026
	recallTarget    = 0.99
	precisionTarget = 0.99
)

// recallEntities must reach recallTarget; every entity must reach
// precisionTarget.
var recallEntities = []Entity{CreditCard, CPF, CNPJ, IBAN, SSN}

type corpusLine struct {
	lang  string
	text  string
	spans []Span // planted, sorted
}

type corpusTemplate struct{ lang, text string }

func loadTemplates(t testing.TB) []corpusTemplate {
	t.Helper()
	f, err := os.Open("testdata/corpus_templates.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []corpusTemplate
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lang, text, ok := strings.Cut(line, "|")
		if !ok {
			t.Fatalf("bad template %q", line)
		}
		ts = append(ts, corpusTemplate{lang, text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ts
}

// corpusGen generates corpus lines deterministically.
type corpusGen struct {
	r         *rand.Rand
	templates []corpusTemplate
}

func newCorpusGen(t testing.TB, seed1, seed2 uint64) *corpusGen {
	return &corpusGen{r: rand.New(rand.NewPCG(seed1, seed2)), templates: loadTemplates(t)}
}

// line returns one message: one template, or two joined as people do.
func (g *corpusGen) line() corpusLine {
	var l corpusLine
	tpl := g.templates[g.r.IntN(len(g.templates))]
	l.lang = tpl.lang
	g.fill(&l, tpl.text)
	if g.r.IntN(5) == 0 {
		// A second sentence in the same language.
		for {
			t2 := g.templates[g.r.IntN(len(g.templates))]
			if t2.lang == tpl.lang {
				l.text += " "
				g.fill(&l, t2.text)
				break
			}
		}
	}
	return l
}

func (g *corpusGen) fill(l *corpusLine, tpl string) {
	for {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			l.text += tpl
			return
		}
		j := strings.IndexByte(tpl[i:], '}') + i
		l.text += tpl[:i]
		g.slot(l, tpl[i+1:j])
		tpl = tpl[j+1:]
	}
}

// plant appends a secret and records its span.
func (l *corpusLine) plant(e Entity, s string) {
	l.spans = append(l.spans, Span{Entity: e, Start: len(l.text), End: len(l.text) + len(s)})
	l.text += s
}

func (g *corpusGen) slot(l *corpusLine, name string) {
	r := g.r
	switch name {
	// Ordinary content.
	case "order":
		l.text += g.pick(
			fmt.Sprintf("#%07d", r.IntN(1e7)),
			fmt.Sprintf("%08d", r.IntN(1e8)),
			fmt.Sprintf("PED-%d-%06d", 2020+r.IntN(6), r.IntN(1e6)),
			fmt.Sprintf("11%d-%07d-%07d", 1+r.IntN(4), r.IntN(1e7), r.IntN(1e7)),
			fmt.Sprintf("%06d", r.IntN(1e6)))
	case "protocol":
		l.text += g.pick(
			fmt.Sprintf("%d%02d%02d%08d", 2023+r.IntN(4), 1+r.IntN(12), 1+r.IntN(28), r.IntN(1e8)),
			fmt.Sprintf("%d%02d%02d%012d", 2023+r.IntN(4), 1+r.IntN(12), 1+r.IntN(28), r.Int64N(1e12)),
			fmt.Sprintf("ATD-%d", r.IntN(1e7)),
			fmt.Sprintf("%012d", r.Int64N(1e12)),
			fmt.Sprintf("CS%08d", r.IntN(1e8)))
	case "amount":
		reais := r.IntN(5000)
		l.text += g.pick(
			fmt.Sprintf("R$ %s,%02d", thousands(reais, '.'), r.IntN(100)),
			fmt.Sprintf("R$%d,%02d", reais, r.IntN(100)),
			fmt.Sprintf("$%s.%02d", thousands(reais, ','), r.IntN(100)),
			fmt.Sprintf("US$ %d.%02d", reais, r.IntN(100)),
			fmt.Sprintf("€%d,%02d", r.IntN(900), r.IntN(100)),
			fmt.Sprintf("%d reais", 10+r.IntN(990)),
			fmt.Sprintf("MXN $%s.00", thousands(reais, ',')))
	case "date":
		d, m, y := 1+r.IntN(28), 1+r.IntN(12), 2023+r.IntN(4)
		l.text += g.pick(
			fmt.Sprintf("%02d/%02d/%d", d, m, y),
			fmt.Sprintf("%d-%02d-%02d", y, m, d),
			fmt.Sprintf("%02d/%02d/%d", m, d, y),
			fmt.Sprintf("%02d.%02d.%d", d, m, y),
			fmt.Sprintf("%02d/%02d", d, m),
			fmt.Sprintf("%d de %s", d, g.pick("março", "abril", "mayo", "junio", "July")))
	case "time":
		l.text += g.pick(fmt.Sprintf("%02d:%02d", r.IntN(24), r.IntN(60)), fmt.Sprintf("%dh", 8+r.IntN(12)),
			fmt.Sprintf("%dh%02d", 8+r.IntN(12), r.IntN(60)))
	case "tracking":
		l.text += g.pick(
			fmt.Sprintf("%s%09d%s", g.pick("BR", "LB", "NL", "OV", "QB"), r.IntN(1e9), g.pick("BR", "HK", "CN")),
			"1Z"+g.alnum(6)+fmt.Sprintf("%010d", r.Int64N(1e10)),
			groupDigits(g.digits(22), 4, " "),
			fmt.Sprintf("%012d", r.Int64N(1e12)))
	case "boleto":
		d := g.digits(47)
		l.text += fmt.Sprintf("%s.%s %s.%s %s.%s %s %s", d[0:5], d[5:10], d[10:15], d[15:21], d[21:26], d[26:32], d[32:33], d[33:47])
	case "nfe":
		key := fmt.Sprintf("%d", 11+r.IntN(43)) + g.digits(42)
		l.text += g.pick(groupDigits(key, 4, " "), key)
	case "cep":
		l.text += fmt.Sprintf("%05d-%03d", r.IntN(1e5), r.IntN(1e3))
	case "digits":
		l.text += g.luhnInvalid()
	case "qty":
		l.text += fmt.Sprint(1 + r.IntN(pickOf(r, 9, 99, 999, 9999)))
	case "name":
		l.text += g.pick("Ana", "João", "Maria", "Carlos", "Lucía", "José", "Fernanda", "Mike", "Sarah", "Pedro")
	case "product":
		l.text += g.pick("fone bluetooth", "Galaxy S24", "air fryer", "kit de toalhas", "monitor 27\"", "zapatillas")
	case "agency":
		l.text += fmt.Sprintf("%04d", r.IntN(1e4))
	case "account":
		l.text += fmt.Sprintf("%05d-%d", r.IntN(1e5), r.IntN(10))
	case "rg":
		l.text += fmt.Sprintf("%02d.%03d.%03d-%d", r.IntN(100), r.IntN(1000), r.IntN(1000), r.IntN(10))
	case "plate":
		l.text += g.pick(fmt.Sprintf("%s%d%s%02d", g.letters(3), r.IntN(10), g.letters(1), r.IntN(100)),
			fmt.Sprintf("%s-%04d", g.letters(3), r.IntN(1e4)))
	case "year":
		l.text += fmt.Sprint(2015 + r.IntN(11))
	case "version":
		l.text += fmt.Sprintf("%d.%d.%d", 1+r.IntN(20), r.IntN(10), r.IntN(30))

	// Planted secrets.
	case "card":
		l.plant(CreditCard, g.card())
	case "cardblock":
		pan := g.card()
		l.plant(CreditCard, pan)
		l.text += g.pick(" ", ", ", " - ")
		l.plant(CardExpiry, g.expiry())
		l.text += g.pick(" ", ", ", " ")
		cvvLen := 3
		if strings.HasPrefix(pan, "34") || strings.HasPrefix(pan, "37") {
			cvvLen = 4
		}
		l.plant(CVV, g.digits(cvvLen))
	case "cpf":
		l.plant(CPF, g.cpf())
	case "cnpj":
		l.plant(CNPJ, g.cnpj())
	case "iban":
		l.plant(IBAN, g.iban())
	case "ssn":
		d := g.ssn()
		sep := g.pick("-", "-", " ")
		l.plant(SSN, d[:3]+sep+d[3:5]+sep+d[5:])
	case "ssn_bare":
		l.plant(SSN, g.ssn())
	case "email":
		l.plant(Email, fmt.Sprintf("%s%s%d@%s", g.pick("joao", "maria.silva", "jose_p", "ana", "m.santos", "lucía", "mike.j"),
			g.pick("", ".", "_"), r.IntN(100), g.pick("gmail.com", "hotmail.com", "empresa.com.br", "outlook.es", "uol.com.br")))
	case "phone":
		l.plant(Phone, g.phone())
	case "ip":
		l.plant(IPAddress, g.pick(
			fmt.Sprintf("%d.%d.%d.%d", 11+r.IntN(200), r.IntN(256), r.IntN(256), 1+r.IntN(254)),
			fmt.Sprintf("2804:%x:%x::%x", 1+r.IntN(0xffff), r.IntN(0xffff), 1+r.IntN(0xffff))))
	case "crypto":
		l.plant(Crypto, g.bitcoin())
	case "cvv":
		l.plant(CVV, g.digits(3+r.IntN(2)))
	case "expiry":
		l.plant(CardExpiry, g.expiry())
	case "pin":
		l.plant(PIN, g.digits(4+r.IntN(3)))
	case "password":
		pw := g.pick("Abc@1234", "hunter2", "S3nh@F0rte!", "minhaSenha2024", "Tr0ub4dor&3", "qwerty123",
			"girassol", "P@ssw0rd", "correctHorse", "Gat0Preto#", "luna2019", "XyZ-9981")
		if r.IntN(6) == 0 {
			q := g.pick(`"`, "'")
			l.text += q
			l.plant(Password, pw)
			l.text += q
		} else {
			l.plant(Password, pw)
		}
	case "otp":
		l.plant(OTP, g.pick(g.digits(6), g.digits(3)+" "+g.digits(3), g.digits(4), g.digits(8)))
	default:
		panic("unknown slot " + name)
	}
}

func pickOf[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

func (g *corpusGen) pick(xs ...string) string { return pickOf(g.r, xs...) }

func (g *corpusGen) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

func (g *corpusGen) letters(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + g.r.IntN(26))
	}
	return string(b)
}

func (g *corpusGen) alnum(n int) string {
	const cs = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	for i := range b {
		b[i] = cs[g.r.IntN(len(cs))]
	}
	return string(b)
}

func thousands(n int, sep byte) string {
	s := fmt.Sprint(n)
	if len(s) <= 3 {
		return s
	}
	return s[:len(s)-3] + string(sep) + s[len(s)-3:]
}

func groupDigits(s string, size int, sep string) string {
	var parts []string
	for len(s) > size {
		parts = append(parts, s[:size])
		s = s[size:]
	}
	return strings.Join(append(parts, s), sep)
}

// luhnComplete appends the Luhn check digit to body.
func luhnComplete(body string) string {
	for c := byte('0'); c <= '9'; c++ {
		if luhn([]byte(body + string(c))) {
			return body + string(c)
		}
	}
	panic("unreachable")
}

// card returns a valid PAN of a random scheme, bare or grouped.
func (g *corpusGen) card() string {
	type scheme struct {
		prefix string
		length int
	}
	s := pickOf(g.r,
		scheme{"4", 16}, scheme{"4", 16}, scheme{"4", 13},
		scheme{fmt.Sprint(51 + g.r.IntN(5)), 16}, scheme{fmt.Sprint(2221 + g.r.IntN(500)), 16},
		scheme{pickOf(g.r, "34", "37"), 15}, scheme{"6011", 16}, scheme{"65", 16},
		scheme{fmt.Sprint(3528 + g.r.IntN(62)), 16}, scheme{"36", 14}, scheme{"30" + fmt.Sprint(g.r.IntN(6)), 14},
		scheme{"509" + g.digits(3), 16}, scheme{"6362970", 16}, scheme{"606282", 16},
		scheme{"62", 16}, scheme{"62", 19})
	pan := luhnComplete(s.prefix + g.digits(s.length-len(s.prefix)-1))
	if !ValidCard(pan) {
		panic("generated invalid card " + pan)
	}
	switch g.r.IntN(4) {
	case 0:
		return pan
	case 1:
		if s.length == 15 {
			return pan[:4] + " " + pan[4:10] + " " + pan[10:]
		}
		return groupDigits(pan, 4, " ")
	case 2:
		return groupDigits(pan, 4, "-")
	}
	return groupDigits(pan, 4, " ")
}

// luhnInvalid returns a 13-19 digit run that fails Luhn, bare or grouped.
func (g *corpusGen) luhnInvalid() string {
	n := 13 + g.r.IntN(7)
	d := []byte(g.digits(n))
	if luhn(d) {
		d[n-1] = '0' + (d[n-1]-'0'+1)%10
	}
	if g.r.IntN(2) == 0 {
		return groupDigits(string(d), 4, " ")
	}
	return string(d)
}

func (g *corpusGen) expiry() string {
	m := 1 + g.r.IntN(12)
	return g.pick(fmt.Sprintf("%02d/%02d", m, 26+g.r.IntN(8)), fmt.Sprintf("%02d/20%02d", m, 26+g.r.IntN(8)))
}

func (g *corpusGen) cpf() string {
	for {
		d := []byte(g.digits(9))
		if allSame(d) {
			continue
		}
		for n := 9; n <= 10; n++ {
			sum := 0
			for i := 0; i < n; i++ {
				sum += int(d[i]-'0') * (n + 1 - i)
			}
			d = append(d, byte('0'+mod11Check(sum)))
		}
		s := string(d)
		if g.r.IntN(5) < 3 {
			return s[:3] + "." + s[3:6] + "." + s[6:9] + "-" + s[9:]
		}
		return s
	}
}

func (g *corpusGen) cnpj() string {
	var d []byte
	if g.r.IntN(5) < 3 {
		d = []byte(g.digits(8) + "0001")
	} else {
		d = []byte(g.alnum(8) + g.alnum(4))
	}
	for n := 12; n <= 13; n++ {
		sum, w := 0, 2
		for i := n - 1; i >= 0; i-- {
			sum += int(d[i]-'0') * w
			if w++; w > 9 {
				w = 2
			}
		}
		d = append(d, byte('0'+mod11Check(sum)))
	}
	s := string(d)
	if !ValidCNPJ(s) {
		panic("generated invalid CNPJ " + s)
	}
	if g.r.IntN(10) < 7 {
		return s[:2] + "." + s[2:5] + "." + s[5:8] + "/" + s[8:12] + "-" + s[12:]
	}
	return s
}

func (g *corpusGen) iban() string {
	cc := g.pick("DE", "GB", "ES", "FR", "IT", "NL", "PT", "BR", "CH", "BE", "IE", "PL")
	f := ibanFormats[[2]byte{cc[0], cc[1]}]
	bban := make([]byte, len(f.classes))
	for i, c := range []byte(f.classes) {
		switch c {
		case 'n':
			bban[i] = byte('0' + g.r.IntN(10))
		case 'a':
			bban[i] = byte('A' + g.r.IntN(26))
		default:
			bban[i] = g.alnum(1)[0]
		}
	}
	d := []byte(cc + "00" + string(bban))
	check := 98 - ibanMod97(d)
	copy(d[2:4], fmt.Sprintf("%02d", check))
	s := string(d)
	if !ValidIBAN(s) {
		panic("generated invalid IBAN " + s)
	}
	if g.r.IntN(2) == 0 {
		return groupDigits(s, 4, " ")
	}
	return s
}

func (g *corpusGen) ssn() string {
	for {
		area := 1 + g.r.IntN(899)
		if area == 666 {
			continue
		}
		s := fmt.Sprintf("%03d%02d%04d", area, 1+g.r.IntN(99), 1+g.r.IntN(9999))
		if validSSNDigits([]byte(s)) {
			return s
		}
	}
}

func (g *corpusGen) phone() string {
	r := g.r
	ddd := pickOf(r, "11", "21", "31", "41", "51", "61", "71", "81", "85", "92")
	return g.pick(
		fmt.Sprintf("(%s) 9%04d-%04d", ddd, r.IntN(1e4), r.IntN(1e4)),
		fmt.Sprintf("%s 9%04d-%04d", ddd, r.IntN(1e4), r.IntN(1e4)),
		fmt.Sprintf("+55 %s 9%04d-%04d", ddd, r.IntN(1e4), r.IntN(1e4)),
		fmt.Sprintf("+55 %s 9%04d %04d", ddd, r.IntN(1e4), r.IntN(1e4)),
		fmt.Sprintf("(%d) %d-%04d", 201+r.IntN(700), g.exchange(), r.IntN(1e4)),
		fmt.Sprintf("%d-%d-%04d", 201+r.IntN(700), g.exchange(), r.IntN(1e4)),
		fmt.Sprintf("+1 %d %d %04d", 201+r.IntN(700), g.exchange(), r.IntN(1e4)),
		fmt.Sprintf("+34 6%02d %03d %03d", r.IntN(100), r.IntN(1000), r.IntN(1000)),
		fmt.Sprintf("+52 55 %04d %04d", r.IntN(1e4), r.IntN(1e4)),
		fmt.Sprintf("+351 91%d %03d %03d", r.IntN(10), r.IntN(1000), r.IntN(1000)))
}

// exchange returns a NANP central office code: NXX, not N11 (N11 codes are
// service numbers such as 411 and 911).
func (g *corpusGen) exchange() int {
	for {
		if x := 201 + g.r.IntN(799); x%100 != 11 {
			return x
		}
	}
}

// bitcoin returns a valid P2PKH or P2SH address for a random hash.
func (g *corpusGen) bitcoin() string {
	payload := make([]byte, 21, 25)
	payload[0] = pickOf(g.r, byte(0x00), byte(0x05))
	for i := 1; i < 21; i++ {
		payload[i] = byte(g.r.IntN(256))
	}
	h := sha256.Sum256(payload)
	h = sha256.Sum256(h[:])
	payload = append(payload, h[:4]...)
	n := new(big.Int).SetBytes(payload)
	var out []byte
	mod := new(big.Int)
	for n.Sign() > 0 {
		n.DivMod(n, big.NewInt(58), mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for _, b := range payload {
		if b != 0 {
			break
		}
		out = append(out, '1')
	}
	slices.Reverse(out)
	return string(out)
}

// corpus generates n lines with the fixed seed.
func corpus(t testing.TB, n int) []corpusLine {
	g := newCorpusGen(t, corpusSeed1, corpusSeed2)
	lines := make([]corpusLine, n)
	for i := range lines {
		lines[i] = g.line()
	}
	return lines
}

type entityStats struct{ tp, fp, fn int }

func (s entityStats) precision() float64 {
	if s.tp+s.fp == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fp)
}

func (s entityStats) recall() float64 {
	if s.tp+s.fn == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fn)
}

// corpusSeeds are the generator seeds the corpus test runs with: the one
// the detectors were developed against, and a second one kept as a check.
var corpusSeeds = []struct {
	name   string
	s1, s2 uint64
}{
	{"development", corpusSeed1, corpusSeed2},
	{"check", corpusSeed1 + 1, corpusSeed2},
}

func TestCorpus(t *testing.T) {
	for _, seed := range corpusSeeds {
		t.Run(seed.name, func(t *testing.T) {
			g := newCorpusGen(t, seed.s1, seed.s2)
			lines := make([]corpusLine, corpusLines)
			for i := range lines {
				lines[i] = g.line()
			}
			testCorpus(t, lines)
		})
	}
}

func testCorpus(t *testing.T, lines []corpusLine) {
	s := MustNewScanner(DefaultRegistry())
	stats := map[Entity]*entityStats{}
	stat := func(e Entity) *entityStats {
		if stats[e] == nil {
			stats[e] = &entityStats{}
		}
		return stats[e]
	}
	langs := map[string]int{}
	clean := 0
	var examples []string
	for _, l := range lines {
		langs[l.lang]++
		if len(l.spans) == 0 {
			clean++
		}
		got := s.Scan(l.text)
		for _, p := range l.spans {
			found := slices.ContainsFunc(got, func(q Span) bool {
				return q.Entity == p.Entity && q.Start == p.Start && q.End == p.End
			})
			if found {
				stat(p.Entity).tp++
			} else {
				stat(p.Entity).fn++
				examples = append(examples, fmt.Sprintf("missed %s %q in %q", p.Entity, l.text[p.Start:p.End], l.text))
			}
		}
		for _, q := range got {
			planted := slices.ContainsFunc(l.spans, func(p Span) bool {
				return q.Entity == p.Entity && q.Start == p.Start && q.End == p.End
			})
			if !planted {
				stat(q.Entity).fp++
				examples = append(examples, fmt.Sprintf("false %s %q (%.2f) in %q", q.Entity, l.text[q.Start:q.End], q.Score, l.text))
			}
		}
	}
	t.Logf("corpus: %d lines (pt %d, en %d, es %d), %d without any planted secret",
		len(lines), langs["pt"], langs["en"], langs["es"], clean)
	t.Logf("%-14s %6s %5s %5s %10s %8s", "entity", "tp", "fp", "fn", "precision", "recall")
	var failures []string
	for _, e := range DefaultRegistry().Entities() {
		st := stats[e]
		if st == nil {
			continue
		}
		t.Logf("%-14s %6d %5d %5d %9.2f%% %7.2f%%", e, st.tp, st.fp, st.fn, 100*st.precision(), 100*st.recall())
		if st.precision() < precisionTarget {
			failures = append(failures, fmt.Sprintf("%s precision %.2f%%", e, 100*st.precision()))
		}
		if slices.Contains(recallEntities, e) && st.recall() < recallTarget {
			failures = append(failures, fmt.Sprintf("%s recall %.2f%%", e, 100*st.recall()))
		}
	}
	for i, ex := range examples {
		if i == 40 {
			t.Logf("... %d more", len(examples)-i)
			break
		}
		t.Log(ex)
	}
	if len(failures) > 0 {
		t.Errorf("corpus targets missed: %s", strings.Join(failures, "; "))
	}
}
