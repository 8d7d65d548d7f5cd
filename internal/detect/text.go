package detect

import (
	"strings"
	"unicode"
)

// Byte-level text helpers shared by the detectors. Everything here is
// bounded: no helper looks further than a small constant distance from the
// position it is given, which keeps the scan linear in the text length.

// isWordByte reports whether c can be part of a word: an ASCII letter or
// digit, or any byte of a multi-byte UTF-8 character (accented letters).
func isWordByte(c byte) bool { return isAlnum(c) || c >= 0x80 }

// wordBefore reports whether the byte before i is a word byte.
func wordBefore(text string, i int) bool { return i > 0 && isWordByte(text[i-1]) }

// wordAt reports whether the byte at i exists and is a word byte.
func wordAt(text string, i int) bool { return i < len(text) && isWordByte(text[i]) }

// digitAt reports whether the byte at i exists and is an ASCII digit.
func digitAt(text string, i int) bool { return i >= 0 && i < len(text) && isDigit(text[i]) }

// alnumAt reports whether the byte at i exists and is an ASCII letter or digit.
func alnumAt(text string, i int) bool { return i >= 0 && i < len(text) && isAlnum(text[i]) }

// digitRun returns the end of the run of ASCII digits starting at i.
func digitRun(text string, i int) int {
	for i < len(text) && isDigit(text[i]) {
		i++
	}
	return i
}

// isSpace reports whether c is ASCII horizontal or vertical white space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// maxFold is the longest word the lexicons look at; longer words are never
// keywords.
const maxFold = 24

// latin1Fold maps the second byte of a two-byte UTF-8 sequence starting with
// 0xC3 (U+00C0..U+00FF) to the lower-case ASCII letter it is an accented
// form of, or 0 for characters that are not letters (×, ÷) or have no ASCII
// base (Þ, þ).
var latin1Fold = func() (t [64]byte) {
	const m = "aaaaaaaceeeeiiiidnooooo\x00ouuuuy\x00saaaaaaaceeeeiiiidnooooo\x00ouuuuy\x00y"
	copy(t[:], m)
	return t
}()

// foldWord reads the word starting at i: ASCII letters and the accented
// Latin-1 letters used in Portuguese and Spanish. It writes the word to buf
// lower-cased and without accents ("Código" -> "codigo", "contraseña" ->
// "contrasena") and returns the folded length n and the byte offset end just
// after the word. n is 0 when the word is empty or longer than maxFold, and
// end is then meaningless: reading stops after maxFold+1 letters, which keeps
// every caller's cost bounded however long the word.
func foldWord(text string, i int, buf *[maxFold]byte) (n, end int) {
	j := i
loop:
	for j < len(text) {
		c := text[j]
		var f byte
		size := 1
		switch {
		case isUpper(c):
			f = c + 'a' - 'A'
		case isLower(c):
			f = c
		case c == 0xC3 && j+1 < len(text) && text[j+1] >= 0x80 && text[j+1] < 0xC0:
			f = latin1Fold[text[j+1]-0x80]
			size = 2
		case c == 0xC2 && j+1 < len(text) && (text[j+1] == 0xBA || text[j+1] == 0xAA):
			// º and ª, the ordinal indicators of "nº" and "1ª".
			f = 'a'
			if text[j+1] == 0xBA {
				f = 'o'
			}
			size = 2
		}
		if f == 0 {
			break loop
		}
		if n > maxFold {
			// Not a keyword; stop reading (end is then inside the word,
			// which callers ignore when n is 0).
			break loop
		}
		if n < maxFold {
			buf[n] = f
		}
		n++
		j += size
	}
	if n > maxFold {
		n = 0
	}
	return n, j
}

// A lexicon recognizes short phrases (one to four words) in any case, with or
// without accents, and returns the tag the phrase was registered with. Words
// of a phrase may be separated by spaces, a hyphen, or a full stop and
// spaces ("cód. de segurança").
type lexicon struct {
	// first lists the phrases by their first folded word, in buckets by
	// the word's hash (the bloom filter's, modulo firstBuckets): a bucket
	// holds one or two words, so a lookup is one or two short string
	// comparisons, cheaper than a map access on the hot path.
	first [firstBuckets][]lexFirst
	// pre is a prefilter: bit (first letter) of pre[len] is set when some
	// phrase's first word has that length and first letter.
	pre [maxFold + 1]uint32
	// pair is a cheaper prefilter tried first: bit (second letter) of
	// pair[first letter] is set when some phrase's first word starts with
	// those two letters. Most words fail it without being folded whole.
	pair [26]uint32
	// bloom has bit wordHash(w)%bloomBits set for every first word w: a
	// word that passes the cheap filters is looked up in first only if its
	// bit is set.
	bloom [bloomBits / 64]uint64
	// quad is a bloom filter of the first four letters of every first
	// word, checked before a word is folded whole.
	quad [quadBits / 64]uint64
}

const bloomBits = 4096

// firstBuckets is the number of buckets of lexicon.first (a power of two
// dividing bloomBits).
const firstBuckets = 64

// lexFirst is a first word and the phrases that start with it, longest
// first.
type lexFirst struct {
	word    string
	phrases []lexPhrase
}

// phrases returns the phrases whose first folded word is w, whose
// wordHash modulo bloomBits is h.
func (l *lexicon) phrases(w []byte, h uint32) []lexPhrase {
	for _, f := range l.first[h%firstBuckets] {
		if f.word == string(w) {
			return f.phrases
		}
	}
	return nil
}

// quadBits sizes the bloom filter of four-letter prefixes (see quad).
const quadBits = 4096

// quadHash hashes the first four folded letters of a word (fewer if the
// word is shorter).
func quadHash(w []byte) uint32 {
	return wordHash(w[:min(len(w), 4)]) % quadBits
}

// quadMayMatch folds at most the first four letters at i, ASCII only, and
// checks them against quad. A non-ASCII letter among them defers to the
// full check.
func (l *lexicon) quadMayMatch(text string, i int) bool {
	var b [4]byte
	n := 0
	for j := i; j < len(text) && n < 4; j++ {
		c := text[j]
		switch {
		case isLetter(c):
			b[n] = c | 0x20
			n++
		case c >= 0x80:
			return true
		default:
			j = len(text)
		}
	}
	h := wordHash(b[:n]) % quadBits
	return l.quad[h/64]&(1<<(h%64)) != 0
}

// wordTable is a read-only set of folded words, each with a flag, that is
// looked up without a map access: words sit in buckets by wordHash, a
// handful per bucket, and a lookup hashes the word and compares it with
// those of its bucket. The context detector looks words up after every
// anchor it finds, where a map's hashing showed in profiles.
type wordTable struct {
	buckets [wordTableBuckets][]wordFlag
}

// wordTableBuckets is the number of buckets of a wordTable.
const wordTableBuckets = 256

type wordFlag struct {
	word string
	flag bool
}

func newWordTable(m map[string]bool) *wordTable {
	t := &wordTable{}
	for w, f := range m {
		h := wordHash([]byte(w)) % wordTableBuckets
		t.buckets[h] = append(t.buckets[h], wordFlag{w, f})
	}
	return t
}

// lookup returns the flag of w and whether w is in the table.
func (t *wordTable) lookup(w []byte) (flag, ok bool) {
	for _, e := range t.buckets[wordHash(w)%wordTableBuckets] {
		if e.word == string(w) {
			return e.flag, true
		}
	}
	return false, false
}

// wordHash is FNV-1a over a folded word.
func wordHash(w []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range w {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

type lexPhrase struct {
	rest []string // folded words after the first
	tag  uint32
}

// newLexicon builds a lexicon from phrases and their tags. Phrases are
// written naturally ("código de segurança") and folded here.
func newLexicon(phrases map[string]uint32) *lexicon {
	l := &lexicon{}
	byFirst := make(map[string][]lexPhrase)
	for p, tag := range phrases {
		words := strings.FieldsFunc(foldString(p), func(r rune) bool { return r == ' ' || r == '-' || r == '.' })
		if len(words) == 0 || len(words) > lexMaxWords || len(words[0]) > maxFold {
			panic("detect: bad lexicon phrase " + p)
		}
		w := words[0]
		byFirst[w] = append(byFirst[w], lexPhrase{rest: words[1:], tag: tag})
		l.pre[len(w)] |= 1 << (w[0] - 'a')
		h := wordHash([]byte(w)) % bloomBits
		l.bloom[h/64] |= 1 << (h % 64)
		q := quadHash([]byte(w))
		l.quad[q/64] |= 1 << (q % 64)
		if len(w) >= 2 {
			l.pair[w[0]-'a'] |= 1 << (w[1] - 'a')
		} else {
			l.pair[w[0]-'a'] |= 1 << 26 // a one-letter word
		}
	}
	for w, ps := range byFirst {
		// Longest phrase first, so "security code" wins over "security".
		sortPhrases(ps)
		h := wordHash([]byte(w)) % bloomBits % firstBuckets
		l.first[h] = append(l.first[h], lexFirst{w, ps})
	}
	return l
}

func sortPhrases(ps []lexPhrase) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && len(ps[j].rest) > len(ps[j-1].rest); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// foldString folds a whole phrase with foldWord's rules, keeping non-letters.
func foldString(s string) string {
	var b strings.Builder
	var buf [maxFold]byte
	for i := 0; i < len(s); {
		n, end := foldWord(s, i, &buf)
		if end == i {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.Write(buf[:n])
		i = end
	}
	return b.String()
}

// match reports whether a phrase of l starts at i (which should be the start
// of a word) and returns the offset just after it and its tag. The longest
// matching phrase wins.
func (l *lexicon) match(text string, i int) (end int, tag uint32, ok bool) {
	if !l.pairMayMatch(text, i) {
		return 0, 0, false
	}
	if !l.quadMayMatch(text, i) {
		return 0, 0, false
	}
	var w [lexMaxWords]foldedWord
	w[0].n, w[0].end = foldWord(text, i, &w[0].buf)
	n := w[0].n
	if n == 0 || l.pre[n]&(1<<(w[0].buf[0]-'a')) == 0 {
		return 0, 0, false
	}
	h := wordHash(w[0].buf[:n]) % bloomBits
	if l.bloom[h/64]&(1<<(h%64)) == 0 {
		return 0, 0, false
	}
	folded := 1 // words of w folded so far (the first, plus later ones lazily)
	for _, p := range l.phrases(w[0].buf[:n], h) {
		k := 0
		for ; k < len(p.rest); k++ {
			if k+1 == folded {
				// Fold the next word once, for every phrase that needs it.
				prev := w[k].end
				j := skipPhraseSep(text, prev)
				if j == prev || w[k].n == 0 {
					w[k+1].n = 0
				} else {
					w[k+1].n, w[k+1].end = foldWord(text, j, &w[k+1].buf)
				}
				folded++
			}
			if string(w[k+1].buf[:w[k+1].n]) != p.rest[k] {
				break
			}
		}
		if k == len(p.rest) {
			return w[k].end, p.tag, true
		}
	}
	return 0, 0, false
}

// lexMaxWords is the most words a lexicon phrase may have.
const lexMaxWords = 6

// foldedWord is one word folded by foldWord.
type foldedWord struct {
	buf    [maxFold]byte
	n, end int
}

// skipPhraseSep skips the separator between two words of a phrase: up to
// three spaces, optionally preceded by a full stop, or a single hyphen.
func skipPhraseSep(text string, i int) int {
	j := i
	if j < len(text) && text[j] == '-' {
		return j + 1
	}
	if j < len(text) && text[j] == '.' {
		j++
	}
	k := j
	for k < len(text) && k-j < 3 && (text[k] == ' ' || text[k] == '\t') {
		k++
	}
	if k == j && j > i { // a full stop alone does not separate words
		return i
	}
	return k
}

// contextWindow is how far, in bytes, a context word may sit from the value
// it supports.
const contextWindow = 40

// contextNear reports whether a phrase of l occurs within contextWindow bytes
// before start or after end. It is called only for weak candidates, so its
// cost (a bounded scan of both windows) does not weigh on the common path.
func contextNear(text string, start, end int, l *lexicon) bool {
	from := max(0, start-contextWindow)
	if contextIn(text, from, start, l) {
		return true
	}
	return contextIn(text, end, min(len(text), end+contextWindow), l)
}

// contextIn looks for a phrase of l starting at a word start in [from, to).
func contextIn(text string, from, to int, l *lexicon) bool {
	for j := from; j < to; j++ {
		if (isLetter(text[j]) || text[j] == 0xC3) && !wordBefore(text, j) {
			if _, _, ok := l.match(text, j); ok {
				return true
			}
		}
	}
	return false
}

// isLetterRune reports whether r is a letter or digit outside ASCII, the
// characters internationalized addresses and words may contain.
func isLetterRune(r rune) bool {
	return r >= 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r))
}

// pairMayMatch applies the two-letter prefilter at i.
func (l *lexicon) pairMayMatch(text string, i int) bool {
	c := text[i] | 0x20
	if c-'a' >= 26 {
		return true // an accented first letter: let foldWord decide
	}
	set := l.pair[c-'a']
	if set == 0 || i+1 >= len(text) {
		return set&(1<<26) != 0
	}
	d := text[i+1]
	switch {
	case isLetter(d):
		return set&(1<<((d|0x20)-'a')) != 0
	case d == 0xC3 && i+2 < len(text) && text[i+2] >= 0x80 && text[i+2] < 0xC0:
		f := latin1Fold[text[i+2]-0x80]
		return f != 0 && set&(1<<(f-'a')) != 0
	}
	return set&(1<<26) != 0
}
