package detect

import (
	"fmt"
	"math/bits"
	"slices"
	"unicode/utf8"
)

// DefaultMinScore is the minimum score a span needs to be reported by a
// scanner built without WithMinScore. Findings below it are shapes that are
// too common in ordinary chat to act on without a checksum or a context word
// (a bare nine-digit number as an SSN, an eleven-digit run as a phone).
const DefaultMinScore = 0.5

// Scanner finds sensitive spans in text. It is immutable once built and safe
// for concurrent use by any number of goroutines.
type Scanner struct {
	// dispatch maps (class of the previous byte, current byte) to an index
	// into cells; 0 means no detector triggers there.
	dispatch [numPrevClasses * 256]uint8
	cells    []cell
	// pre[k] holds cells[k]'s numPre most selective probes, kept in flat
	// arrays so that the scan loop applies them all before it branches.
	pre      [256]prefilter
	enabled  map[Entity]bool // nil: every entity of the registry
	minScore float64
}

// Option configures a Scanner; see WithEntities and WithMinScore.
type Option struct {
	apply func(*scannerConfig) error
}

type scannerConfig struct {
	entities []Entity
	minScore float64
}

// WithEntities restricts the scanner to the given entities. Detectors that
// report none of them are not run at all. An entity no registered detector
// reports is an error.
func WithEntities(es ...Entity) Option {
	return Option{func(c *scannerConfig) error {
		c.entities = append(c.entities, es...)
		return nil
	}}
}

// WithMinScore sets the minimum score of reported spans (default
// DefaultMinScore). Zero reports every candidate, as Presidio's recognizers
// do when called directly.
func WithMinScore(min float64) Option {
	return Option{func(c *scannerConfig) error {
		if min < 0 || min > 1 {
			return fmt.Errorf("detect: minimum score %v outside [0, 1]", min)
		}
		c.minScore = min
		return nil
	}}
}

// NewScanner builds a scanner running the detectors of r.
func NewScanner(r *Registry, opts ...Option) (*Scanner, error) {
	cfg := scannerConfig{minScore: DefaultMinScore}
	for _, o := range opts {
		if o.apply == nil {
			continue // the zero Option
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	s := &Scanner{minScore: cfg.minScore}
	if cfg.entities != nil {
		s.enabled = make(map[Entity]bool, len(cfg.entities))
		known := make(map[Entity]bool)
		for _, e := range r.Entities() {
			known[e] = true
		}
		for _, e := range cfg.entities {
			if !known[e] {
				return nil, fmt.Errorf("detect: no registered detector reports %s", e)
			}
			s.enabled[e] = true
		}
	}

	// Build the dispatch table: for each (previous class, byte), the
	// (detector, trigger) pairs that fire there. Identical combinations
	// share one cell.
	type ref struct{ d, t int }
	var perCell [numPrevClasses * 256][]ref
	for di, d := range r.detectors {
		if s.enabled != nil && !slices.ContainsFunc(d.Entities(), func(e Entity) bool { return s.enabled[e] }) {
			continue
		}
		for ti, t := range d.Triggers() {
			for p := range numPrevClasses {
				if !t.Boundary.allows(prevClass(p)) {
					continue
				}
				for i := 0; i < len(t.Bytes); i++ {
					cell := &perCell[p*256+int(t.Bytes[i])]
					*cell = append(*cell, ref{di, ti})
				}
			}
		}
	}
	keys := [][]ref{nil}
	s.cells = []cell{{}}
	for c, refs := range perCell {
		if len(refs) == 0 {
			continue
		}
		k := slices.IndexFunc(keys, func(l []ref) bool { return slices.Equal(l, refs) })
		if k < 0 {
			if len(keys) == 256 {
				return nil, fmt.Errorf("detect: too many distinct trigger combinations")
			}
			if len(refs) > maxCellDetectors {
				return nil, fmt.Errorf("detect: more than %d detectors trigger on one byte", maxCellDetectors)
			}
			k = len(keys)
			keys = append(keys, refs)
			var ds []Detector
			var ts []Trigger
			for _, rf := range refs {
				ds = append(ds, r.detectors[rf.d])
				ts = append(ts, r.detectors[rf.d].Triggers()[rf.t])
			}
			s.cells = append(s.cells, newCell(ds, ts))
		}
		s.dispatch[c] = uint8(k)
	}
	for k := 1; k < len(s.cells); k++ {
		s.pre[k] = s.cells[k].prefilter()
	}
	return s, nil
}

// MustNewScanner is NewScanner that panics on error.
func MustNewScanner(r *Registry, opts ...Option) *Scanner {
	s, err := NewScanner(r, opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// Scan returns the sensitive spans of text: sorted by Start, non-overlapping,
// each at or above the scanner's minimum score and of an enabled entity.
// It returns nil when there are none; it allocates only when a detector
// finds a candidate (see AppendScan to avoid even that).
func (s *Scanner) Scan(text string) []Span {
	return s.AppendScan(nil, text)
}

// AppendScan is Scan appending to dst, so that a caller scanning many
// messages can reuse one slice: spans = s.AppendScan(spans[:0], msg).
func (s *Scanner) AppendScan(dst []Span, text string) []Span {
	base := len(dst)
	// One table lookup per byte, keyed by the class of the previous byte
	// and the byte itself; the branch is taken only at positions where
	// some trigger matches (on chat text, nearly every word start), and
	// there the cell's numPre most selective probes are applied together,
	// without branching between them, before any call: on the benchmark
	// text they leave 29% of those positions. A branch per probe, or a
	// call to apply them, costs more than the probes themselves.
	dispatch, pre := &s.dispatch, &s.pre
	var prevByte byte = ' '
	for i := 0; i < len(text); i++ {
		c := text[i]
		k := dispatch[int(byteClass[prevByte]&3)<<8|int(c)]
		prevByte = c
		if k == 0 {
			continue
		}
		f := &pre[k]
		p, q, r := i+f.off[0], i+f.off[1], i+f.off[2]
		var m uint8
		if n := uint(len(text)); uint(p) < n && uint(q) < n && uint(r) < n {
			m = f.mask[0][text[p]] & f.mask[1][text[q]] & f.mask[2][text[r]]
		} else {
			m = f.at(text, i) // near either end of the text
		}
		if m != 0 {
			dst = s.cells[k].fire(text, i, m, dst)
		}
	}
	if len(dst) == base {
		return dst
	}
	return dst[:base+s.resolve(text, dst[base:])]
}

// resolve filters, sorts and de-overlaps spans in place and returns how many
// remain at the front of spans. Spans that break the Detector contract (out
// of bounds, empty, not on character boundaries, score outside (0, 1]) are
// dropped here, so that no detector can hand a caller a span that would cut
// a character in two when it is masked.
func (s *Scanner) resolve(text string, spans []Span) int {
	n := 0
	for _, sp := range spans {
		if sp.Start < 0 || sp.End > len(text) || sp.Start >= sp.End ||
			!utf8.RuneStart(text[sp.Start]) || (sp.End < len(text) && !utf8.RuneStart(text[sp.End])) {
			continue
		}
		if sp.Score < s.minScore || sp.Score <= 0 || sp.Score > 1 {
			continue
		}
		if s.enabled != nil && !s.enabled[sp.Entity] {
			continue
		}
		spans[n] = sp
		n++
	}
	spans = spans[:n]
	if n > 1 {
		slices.SortFunc(spans, func(a, b Span) int {
			if a.Start != b.Start {
				return a.Start - b.Start
			}
			return b.End - a.End // longer first
		})
	}
	// Greedy left-to-right: a span that overlaps the last kept one replaces
	// it (and possibly earlier ones) only if it beats every span it overlaps.
	kept := 0
	for _, sp := range spans {
		drop := false
		pop := 0
		for j := kept - 1; j >= 0 && spans[j].End > sp.Start; j-- {
			if !beats(sp, spans[j]) {
				drop = true
				break
			}
			pop++
		}
		if drop {
			continue
		}
		kept -= pop
		spans[kept] = sp
		kept++
	}
	return kept
}

// beats reports whether a should win over the overlapping span b. Two
// readings of one entity ("+1 415 555 0132" and its "415 555 0132") keep
// the longer, which masks more; otherwise the higher score wins, then the
// longer span, then the earlier.
func beats(a, b Span) bool {
	if a.Entity == b.Entity && a.Len() != b.Len() {
		return a.Len() > b.Len()
	}
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if a.Len() != b.Len() {
		return a.Len() > b.Len()
	}
	return a.Start < b.Start
}

// prevClass classifies the byte before a trigger position.
type prevClass uint8

const (
	classOther  prevClass = iota // start of text, space, punctuation, control
	classDigit                   // 0-9
	classLetter                  // A-Z, a-z
	classHigh                    // any byte of a multi-byte UTF-8 sequence
)

// numPrevClasses is the number of prevClass values.
const numPrevClasses = 4

var byteClass = func() (t [256]prevClass) {
	for c := range 256 {
		switch {
		case c >= '0' && c <= '9':
			t[c] = classDigit
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
			t[c] = classLetter
		case c >= 0x80:
			t[c] = classHigh
		}
	}
	return t
}()

func (b Boundary) allows(p prevClass) bool {
	switch b {
	case AfterNonDigit:
		return p != classDigit
	case AfterNonWord:
		return p == classOther
	default:
		return true
	}
}

// Trigger filters are compiled per dispatch cell into one table per
// offset: bit j of mask[o][c] is set when the trigger of the cell's
// detector j accepts byte c at offset o from the position. Deciding which
// detectors to call is then one lookup per offset, whatever their number.
const (
	maxCellDetectors = 8
	maxLookbehind    = 3
	maxLookahead     = 7
)

// cell is one distinct combination of detectors that trigger on a byte.
type cell struct {
	detectors []Detector
	all       uint8   // one bit per detector
	probes    []probe // most selective first
	first     *probe  // probes[0], or a probe admitting everything
	// builtin is set when every detector of the cell is a built-in one,
	// of kinds[j]: fire then calls them through fireBuiltin, which shares
	// the parse of a digit run among them. long has the bits of the
	// detectors that need that run's groups parsed.
	builtin bool
	kinds   [maxCellDetectors]builtinKind
	long    uint8
}

// probe filters the byte at one offset from the trigger position.
type probe struct {
	off    int
	absent uint8 // detectors that accept a position outside the text
	mask   [256]uint8
}

func newCell(ds []Detector, ts []Trigger) cell {
	c := cell{detectors: ds, all: uint8(1<<len(ds) - 1), builtin: true}
	for j, d := range ds {
		c.kinds[j] = kindOf(d)
		switch c.kinds[j] {
		case kindOther:
			c.builtin = false
		case kindNumbers, kindPhone:
			c.long |= 1 << j
		}
	}
	for o := -maxLookbehind; o <= maxLookahead; o++ {
		if o == 0 {
			continue
		}
		pr := probe{off: o}
		constrained := false
		for j, t := range ts {
			var set string
			switch {
			case o < 0 && -o <= len(t.Lookbehind):
				set = t.Lookbehind[-o-1]
			case o > 0 && o <= len(t.Lookahead):
				set = t.Lookahead[o-1]
			default:
				pr.absent |= 1 << j
				for b := range pr.mask {
					pr.mask[b] |= 1 << j
				}
				continue
			}
			constrained = true
			for b := 0; b < len(set); b++ {
				pr.mask[set[b]] |= 1 << j
			}
		}
		if constrained {
			c.probes = append(c.probes, pr)
		}
	}
	// Most selective probe first: the one that admits fewest bytes, lower
	// case letters counting most (they make up most of any text).
	admitted := func(p probe) int {
		n := 0
		for b, m := range p.mask {
			if m != 0 {
				n++
				if isLower(byte(b)) || b == ' ' {
					n += 20
				}
			}
		}
		return n
	}
	slices.SortStableFunc(c.probes, func(a, b probe) int { return admitted(a) - admitted(b) })
	if len(c.probes) > 0 {
		c.first = &c.probes[0]
	} else {
		c.first = &probe{off: 1, absent: c.all}
		for b := range c.first.mask {
			c.first.mask[b] = c.all
		}
	}
	return c
}

// numPre is the number of probes in a prefilter. Three measured a little
// faster than two on the benchmark text; more probes cost every triggered
// position a load for little gain, as later probes seldom reject.
const numPre = 3

// prefilter is a cell's numPre most selective probes (see cell.prefilter):
// bit j of mask[n][c] is set when detector j of the cell accepts byte c at
// offset off[n], and of absent[n] when it accepts a position outside the
// text.
type prefilter struct {
	off    [numPre]int
	absent [numPre]uint8
	mask   [numPre][256]uint8
}

// prefilter returns the cell's first numPre probes; a cell with fewer gets
// probes that admit everything in place of the missing ones.
func (c *cell) prefilter() prefilter {
	var f prefilter
	for j := range numPre {
		if j < len(c.probes) {
			f.off[j], f.absent[j], f.mask[j] = c.probes[j].off, c.probes[j].absent, c.probes[j].mask
			continue
		}
		if j == 0 {
			f.off[0], f.absent[0], f.mask[0] = c.first.off, c.first.absent, c.first.mask
			continue
		}
		f.absent[j] = c.all
		for b := range f.mask[j] {
			f.mask[j][b] = c.all
		}
	}
	return f
}

// at applies f at position i, near either end of text.
func (f *prefilter) at(text string, i int) uint8 {
	m := uint8(0xFF)
	for j := range numPre {
		if p := i + f.off[j]; uint(p) < uint(len(text)) {
			m &= f.mask[j][text[p]]
		} else {
			m &= f.absent[j]
		}
	}
	return m
}

// fire calls the detectors of the cell whose filters accept position i,
// given m, the detectors its prefilter (its first numPre probes) accepts.
func (c *cell) fire(text string, i int, m uint8, dst []Span) []Span {
	for k := numPre; k < len(c.probes); k++ {
		pr := &c.probes[k]
		if p := i + pr.off; uint(p) < uint(len(text)) {
			m &= pr.mask[text[p]]
		} else {
			m &= pr.absent
		}
		if m == 0 {
			return dst
		}
	}
	if c.builtin {
		return c.fireBuiltin(text, i, m, dst)
	}
	for ; m != 0; m &= m - 1 {
		dst = c.detectors[bits.TrailingZeros8(m)].Detect(text, i, dst)
	}
	return dst
}
