package detect

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The scan goldens pin the scanner's exact output (entity, span, score of
// every finding) on a fixed body of text: both corpus seeds, mutated corpus
// lines, random text dense in digits and separators, and the Presidio peer
// suite's texts. They were recorded with the scanner as it was before the
// shared digit-run parse (see docs/detection.md, "How the scanner runs"),
// so that any optimization of the scan path is checked to change nothing.
// Without the peer suite beside the checkout, the lines of its texts are
// left out of the comparison.
//
//	go test -run TestScanGolden ./internal/detect/            # compare
//	go test -run TestScanGolden ./internal/detect/ -update    # re-record (only for intended changes)

var updateGolden = flag.Bool("update", false, "re-record testdata/scan_golden.txt.gz")

const goldenPath = "testdata/scan_golden.txt.gz"

// goldenTexts returns the texts the goldens cover, each with a label.
func goldenTexts(tb testing.TB) (labels, texts []string) {
	tb.Helper()
	add := func(label, text string) {
		labels = append(labels, label)
		texts = append(texts, text)
	}
	for _, seed := range corpusSeeds {
		g := newCorpusGen(tb, seed.s1, seed.s2)
		for i := range corpusLines {
			add(fmt.Sprintf("corpus/%s/%d", seed.name, i), g.line().text)
		}
	}
	r := rand.New(rand.NewPCG(0x601d, 0xe2))
	lines := corpus(tb, 2000)
	for i := range 6000 {
		add(fmt.Sprintf("mutated/%d", i), mutateText(r, lines[r.IntN(len(lines))].text))
	}
	for i := range 6000 {
		add(fmt.Sprintf("random/%d", i), randomNumericText(r, 8+r.IntN(120)))
	}
	for _, seed := range fuzzSeeds {
		add("fuzzseed", seed)
	}
	if b, err := os.ReadFile(peerSuitePath); err == nil {
		var s peerSuite
		if err := json.Unmarshal(b, &s); err != nil {
			tb.Fatalf("parse %s: %v", peerSuitePath, err)
		}
		for _, c := range s.Cases {
			add(fmt.Sprintf("peer/%s/%d", c.Test, c.Index), c.Text)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		tb.Fatal(err)
	}
	return labels, texts
}

// numericPieces are fragments that reach the numeric detectors and the
// boundaries between them: valid and near-valid values, separators, anchor
// words.
var numericPieces = []string{
	"4111 1111 1111 1111", "4111111111111111", "5555-5555-5555-4444", "3782 822463 10005", "6062 8200 0000 0006",
	"123.456.789-09", "12345678909", "11.222.333/0001-81", "11222333000181", "12.ABC.345/01DE-35", "12ABC34501DE35",
	"078-05-1123", "078 05 1123", "078051123", "07805-1123", "078-051123", "(11) 98765-4321", "+55 11 98456 5666",
	"+1 415 555 0132", "415-555-0132", "1-800-555-0199", "98456-5666", "090-1234-5678", "020 7123 4567",
	"10.0.0.1", "192.168.0.1/24", "2001:db8::1", "::ffff:192.0.2.1", "fe80::1%eth0", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
	"16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ", "12/27", "04/2029", "123", "1234", "12", "1", "0001", "9",
	"DE89 3704 0044 0532 0130 00", "cvv", "cpf", "cnpj", "ssn", "social security", "phone", "tel", "validade",
	"senha", "pin", "código", "R$ 1.234,56", "15/03/2024", "14:30", "#4839201", "2024031512345678",
	"23793.38128 60007.827136 95000.063305 9 84410000026035", "4124 0312 3456 7800 0190 5500 1000 0012 3410 0000 1234",
	"gb82west12345698765432", "GB82 WEST 1234 5698 7654 32", "GB82-WEST-1234-5698-7654-32", "NL91ABNA0417164300",
	"NL91 ABNA 0417 1643 00", "BR1800360305000010009795493C1", "DE89370400440532013000", "iban", "AB12", "x", "é",
}

// randomNumericText returns n bytes or so of text dense in digits,
// separators and the pieces above.
func randomNumericText(r *rand.Rand, n int) string {
	const alphabet = "0123456789012345678901234567890123456789 -./ -./,:()+/@#abcdefABCDEFxyzXYZ\t\n"
	var b strings.Builder
	for b.Len() < n {
		switch k := r.IntN(10); {
		case k < 3:
			b.WriteString(numericPieces[r.IntN(len(numericPieces))])
		case k < 4:
			b.WriteString([]string{"é", "ç", "ã", "\u00a0", "\xff", "\xc3"}[r.IntN(6)])
		default:
			for range 1 + r.IntN(6) {
				b.WriteByte(alphabet[r.IntN(len(alphabet))])
			}
		}
	}
	return b.String()
}

// mutateText changes a few bytes of s: digits replaced, separators
// inserted or removed, pieces spliced in.
func mutateText(r *rand.Rand, s string) string {
	b := []byte(s)
	for range 1 + r.IntN(4) {
		if len(b) == 0 {
			break
		}
		i := r.IntN(len(b))
		switch r.IntN(5) {
		case 0:
			b[i] = "0123456789"[r.IntN(10)]
		case 1:
			b = append(b[:i], append([]byte{" -./"[r.IntN(4)]}, b[i:]...)...)
		case 2:
			b = append(b[:i], b[i+1:]...)
		case 3:
			b = append(b[:i], append([]byte(numericPieces[r.IntN(len(numericPieces))]), b[i:]...)...)
		default:
			b = append(b[:i], append([]byte(" "+strconv.Itoa(r.IntN(1e6))+" "), b[i:]...)...)
		}
	}
	return string(b)
}

// goldenScanners are the configurations the goldens record: the default,
// every candidate (minimum score 0), and each entity alone at score 0 (as
// the peer suite replays cases), which exposes findings that a competing
// entity would hide.
func goldenScanners(tb testing.TB, reg *Registry) (names []string, ss []*Scanner) {
	tb.Helper()
	names = append(names, "default", "all")
	ss = append(ss, MustNewScanner(reg), MustNewScanner(reg, WithMinScore(0)))
	for _, e := range reg.Entities() {
		names = append(names, string(e))
		ss = append(ss, MustNewScanner(reg, WithEntities(e), WithMinScore(0)))
	}
	return names, ss
}

// renderGolden writes one line per text and scanner that finds anything.
func renderGolden(tb testing.TB, reg *Registry) []byte {
	labels, texts := goldenTexts(tb)
	names, ss := goldenScanners(tb, reg)
	var out bytes.Buffer
	for i, text := range texts {
		for k, s := range ss {
			spans := s.Scan(text)
			if len(spans) == 0 {
				continue
			}
			fmt.Fprintf(&out, "%s %s", labels[i], names[k])
			for _, sp := range spans {
				fmt.Fprintf(&out, " %s:%d-%d:%s", sp.Entity, sp.Start, sp.End, strconv.FormatFloat(sp.Score, 'g', -1, 64))
			}
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

func TestScanGolden(t *testing.T) {
	_, err := os.Stat(peerSuitePath)
	withPeer := err == nil
	if !withPeer && *updateGolden {
		t.Fatalf("peer suite not found at %s: the goldens include its texts", peerSuitePath)
	}
	got := renderGolden(t, DefaultRegistry())
	if *updateGolden {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(got)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %d bytes, sha256 %x", len(got), sha256.Sum256(got))
		return
	}
	f, err := os.Open(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !withPeer {
		// Compare the rest: the lines of the peer suite's texts cannot be
		// rendered without it.
		t.Logf("peer suite not found at %s: comparing without its texts", peerSuitePath)
		var kept []byte
		for _, l := range bytes.SplitAfter(want, []byte("\n")) {
			if !bytes.HasPrefix(l, []byte("peer/")) {
				kept = append(kept, l...)
			}
		}
		want = kept
	}
	if bytes.Equal(got, want) {
		t.Logf("%d lines of findings identical", bytes.Count(want, []byte("\n")))
		return
	}
	// Report the first differences by line.
	gl, wl := lineSet(got), lineSet(want)
	n := 0
	for l := range wl {
		if !gl[l] && n < 20 {
			t.Errorf("missing: %s", l)
			n++
		}
	}
	for l := range gl {
		if !wl[l] && n < 40 {
			t.Errorf("new:     %s", l)
			n++
		}
	}
	t.Errorf("scan output differs from %s", goldenPath)
}

func lineSet(b []byte) map[string]bool {
	m := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m[sc.Text()] = true
	}
	return m
}
