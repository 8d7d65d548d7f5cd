package detect

import (
	"regexp"
	"slices"
	"testing"
)

// Benchmarks: the scanner against a straightforward regexp implementation
// of the same entities (one compiled pattern per entity, each run over the
// message, candidates validated with the same checksum functions), on the
// same chat messages, about 1% of which carry a secret.
//
//	go test -run x -bench . -benchtime 2s ./internal/detect/

// benchMessages returns about 1 MiB of generated chat messages, one in a
// hundred with a planted secret, and the share of bytes inside secrets.
func benchMessages(tb testing.TB) (msgs []string, size int, sensitive float64) {
	return benchMessagesEvery(tb, 100)
}

// benchMessagesEvery is benchMessages with one message in every carrying a
// planted secret.
func benchMessagesEvery(tb testing.TB, every int) (msgs []string, size int, sensitive float64) {
	tb.Helper()
	g := newCorpusGen(tb, corpusSeed1+2, corpusSeed2)
	var secretBytes int
	var clean, planted []corpusLine
	for size < 1<<20 {
		l := g.line()
		if len(l.spans) == 0 {
			clean = append(clean, l)
		} else if len(planted) < len(clean)/(every-1) {
			planted = append(planted, l)
		} else {
			continue
		}
		size += len(l.text)
	}
	// Interleave: every hundredth message carries a secret.
	for i, l := range clean {
		msgs = append(msgs, l.text)
		if i%(every-1) == every-2 && len(planted) > 0 {
			msgs = append(msgs, planted[0].text)
			for _, s := range planted[0].spans {
				secretBytes += s.Len()
			}
			planted = planted[1:]
		}
	}
	size = 0
	for _, m := range msgs {
		size += len(m)
	}
	return msgs, size, float64(secretBytes) / float64(size)
}

func BenchmarkScan(b *testing.B) { benchScan(b, 100) }

// BenchmarkScanDense is BenchmarkScan with about 1% of the bytes (rather
// than 1% of the messages) inside secrets: one message in 33 carries one.
func BenchmarkScanDense(b *testing.B) { benchScan(b, 33) }

// benchScan scans messages of which one in every carries a secret.
func benchScan(b *testing.B, every int) {
	msgs, size, density := benchMessagesEvery(b, every)
	s := MustNewScanner(DefaultRegistry())
	b.Logf("%d messages, %d bytes, %.2f%% of bytes in secrets", len(msgs), size, 100*density)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var spans []Span
	for b.Loop() {
		for _, m := range msgs {
			spans = s.AppendScan(spans[:0], m)
		}
	}
}

func BenchmarkScanAlloc(b *testing.B) {
	// Scan (allocating the result) rather than AppendScan.
	msgs, size, _ := benchMessages(b)
	s := MustNewScanner(DefaultRegistry())
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			_ = s.Scan(m)
		}
	}
}

func BenchmarkRegexpBaseline(b *testing.B) { benchRegexp(b, 100) }

// BenchmarkRegexpBaselineDense is BenchmarkRegexpBaseline on the messages
// of BenchmarkScanDense.
func BenchmarkRegexpBaselineDense(b *testing.B) { benchRegexp(b, 33) }

func benchRegexp(b *testing.B, every int) {
	msgs, size, _ := benchMessagesEvery(b, every)
	r := newRegexpBaseline()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			_ = r.scan(m)
		}
	}
}

// regexpBaseline is the comparison point: what a straightforward
// implementation with Go's regexp package looks like. Patterns follow the
// same rules as the detectors (shapes, anchors), and candidates go through
// the same validators; it is not meant to be as precise, only to do the
// same amount of work the obvious way.
type regexpBaseline struct {
	rules []regexpRule
}

type regexpRule struct {
	entity Entity
	re     *regexp.Regexp
	group  int               // submatch holding the value (0: whole match)
	valid  func(string) bool // nil: no validation
}

func newRegexpBaseline() *regexpBaseline {
	anchor := func(words string) string {
		return `(?i)\b(?:` + words + `)\b(?:\s*(?:is|é|e|es|:|=)\s*|\s+)`
	}
	return &regexpBaseline{rules: []regexpRule{
		{CreditCard, regexp.MustCompile(`\b(?:\d[ -]?){12,18}\d\b`), 0, ValidCard},
		{CPF, regexp.MustCompile(`\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b`), 0, ValidCPF},
		{CNPJ, regexp.MustCompile(`\b[0-9A-Z]{2}\.?[0-9A-Z]{3}\.?[0-9A-Z]{3}/?[0-9A-Z]{4}-?\d{2}\b`), 0, ValidCNPJ},
		{IBAN, regexp.MustCompile(`\b[A-Z]{2}\d{2}(?:[ ]?[0-9A-Z]{4}){2,7}(?:[ ]?[0-9A-Z]{1,3})?\b`), 0, ValidIBAN},
		{SSN, regexp.MustCompile(`\b\d{3}[- ]\d{2}[- ]\d{4}\b`), 0, ValidSSN},
		{Email, regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`), 0, nil},
		{Phone, regexp.MustCompile(`(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,3}\)[ ]?|\b\d{2,3}[ .-])\d{4,5}[ .-]?\d{4}\b`), 0, nil},
		{IPAddress, regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b`), 0, nil},
		{IPAddress, regexp.MustCompile(`\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}\b`), 0, nil},
		{Crypto, regexp.MustCompile(`\b(?:bc1|[13])[a-km-zA-HJ-NP-Z1-9]{25,59}\b`), 0, nil},
		{CVV, regexp.MustCompile(anchor(`cvv|cvc|c[oó]digo de seguran[çc]a|c[oó]digo de seguridad|security code`) + `(\d{3,4})\b`), 1, nil},
		{CardExpiry, regexp.MustCompile(anchor(`expiry|exp|validade|vencimento|vencimiento`) + `((?:0[1-9]|1[0-2])/(?:20)?\d{2})\b`), 1, nil},
		{PIN, regexp.MustCompile(anchor(`pin|nip|senha do cart[aã]o`) + `(\d{4,8})\b`), 1, nil},
		{Password, regexp.MustCompile(anchor(`password|senha|contrase[ñn]a|clave`) + `(\S{4,128})`), 1, nil},
		{OTP, regexp.MustCompile(anchor(`otp|token|verification code|c[oó]digo de verifica(?:ção|cao|ción|cion)`) + `(\d{4,8})\b`), 1, nil},
	}}
}

func (r *regexpBaseline) scan(text string) []Span {
	var spans []Span
	for _, rule := range r.rules {
		for _, m := range rule.re.FindAllStringSubmatchIndex(text, -1) {
			s, e := m[2*rule.group], m[2*rule.group+1]
			if rule.valid != nil && !rule.valid(text[s:e]) {
				continue
			}
			spans = append(spans, Span{rule.entity, s, e, 1})
		}
	}
	slices.SortFunc(spans, func(a, b Span) int { return a.Start - b.Start })
	return spans
}

// TestRegexpBaselineFindsPlantedCards keeps the comparison honest: the
// baseline must do the job too, at least for the checksum entities.
func TestRegexpBaselineFindsPlantedCards(t *testing.T) {
	r := newRegexpBaseline()
	found, total := 0, 0
	for _, l := range corpus(t, 1000) {
		got := r.scan(l.text)
		for _, p := range l.spans {
			if p.Entity != CreditCard && p.Entity != IBAN && p.Entity != CPF {
				continue
			}
			total++
			if slices.ContainsFunc(got, func(q Span) bool { return q.Entity == p.Entity && q.Start == p.Start && q.End == p.End }) {
				found++
			}
		}
	}
	if total == 0 || float64(found)/float64(total) < 0.9 {
		t.Errorf("regexp baseline found %d of %d planted cards, IBANs and CPFs", found, total)
	}
	t.Logf("regexp baseline found %d of %d planted cards, IBANs and CPFs", found, total)
}
