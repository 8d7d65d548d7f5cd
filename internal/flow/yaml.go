package flow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a flow or catalog file.
const MaxFileSize = 1 << 20

// decoder turns yaml.Node trees into values, collecting diagnostics with
// positions. It accepts exactly what schemas/flow.schema.json describes.
type decoder struct {
	file  string
	lines []string // source lines without line terminators
	ds    Diagnostics
}

func newDecoder(file string, src []byte) *decoder {
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return &decoder{file: file, lines: lines}
}

// report adds a diagnostic of rule r at p.
func (d *decoder) report(p Pos, r Rule, format string, args ...any) {
	d.ds = append(d.ds, Diagnostic{
		File: d.file, Line: p.Line, Column: p.Column,
		Severity: severityOf(r), Rule: r, Message: fmt.Sprintf(format, args...),
	})
}

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

var yamlLine = regexp.MustCompile(`line (\d+)`)

// document parses src into its single YAML document's root node. It fails
// on malformed YAML, several documents, anchors and aliases, and merge keys,
// reporting each with the best position it has.
func (d *decoder) document(src []byte) (root *yaml.Node) {
	if len(src) > MaxFileSize {
		d.report(Pos{Line: 1, Column: 1}, RuleSyntax, "file is larger than %d bytes", MaxFileSize)
		return nil
	}
	if !utf8.Valid(src) {
		d.report(Pos{Line: 1, Column: 1}, RuleSyntax, "file is not valid UTF-8")
		return nil
	}
	defer func() {
		// The YAML parser is third-party code fed untrusted input: a panic
		// in it is a syntax error of the file, not a crash of the gateway.
		if r := recover(); r != nil {
			root = nil
			d.report(Pos{Line: 1, Column: 1}, RuleSyntax, "YAML parser failed on this file")
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.report(Pos{Line: 1, Column: 1}, RuleSyntax, "file is empty")
			return nil
		}
		d.report(yamlErrPos(err), RuleSyntax, "%s", cleanYAMLError(err))
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.report(posOf(&extra), RuleSyntax, "a flow file holds one YAML document; found another")
		return nil
	} else if !errors.Is(err, io.EOF) {
		d.report(yamlErrPos(err), RuleSyntax, "%s", cleanYAMLError(err))
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		d.report(Pos{Line: 1, Column: 1}, RuleSyntax, "file is empty")
		return nil
	}
	if !d.plain(doc.Content[0], 0) {
		return nil
	}
	return doc.Content[0]
}

// maxDepth bounds nesting; the language itself needs about eight levels.
const maxDepth = 32

// plain rejects anchors, aliases, merge keys and excessive nesting. A flow is
// reviewed by people who must be able to read it top to bottom.
func (d *decoder) plain(n *yaml.Node, depth int) bool {
	if depth > maxDepth {
		d.report(posOf(n), RuleSyntax, "nesting deeper than %d levels", maxDepth)
		return false
	}
	if n.Kind == yaml.AliasNode {
		d.report(posOf(n), RuleSyntax, "aliases (*%s) are not supported: write the value out", n.Value)
		return false
	}
	if n.Anchor != "" {
		d.report(posOf(n), RuleSyntax, "anchors (&%s) are not supported: write the value out", n.Anchor)
		return false
	}
	ok := true
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 && c.Kind == yaml.ScalarNode && c.Tag == "!!merge" {
			d.report(posOf(c), RuleSyntax, "merge keys (<<) are not supported: write the keys out")
			ok = false
			continue
		}
		ok = d.plain(c, depth+1) && ok
	}
	return ok
}

func yamlErrPos(err error) Pos {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if l, e := strconv.Atoi(m[1]); e == nil {
			return Pos{Line: l, Column: 1}
		}
	}
	return Pos{Line: 1, Column: 1}
}

func cleanYAMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: ")
	if i := strings.Index(s, "line "); i == 0 {
		if j := strings.Index(s, ": "); j > 0 {
			s = s[j+2:]
		}
	}
	return oneLine(s)
}

// object is a YAML mapping whose keys have been checked against the known
// set.
type object struct {
	d    *decoder
	node *yaml.Node
	what string
	vals map[string]*yaml.Node
	keys map[string]*yaml.Node
}

// object checks that n is a mapping with string keys among known (a nil
// known accepts any key), reporting unknown and duplicate keys. It returns
// nil, after reporting, if n is not a mapping.
func (d *decoder) object(n *yaml.Node, what string, known ...string) *object {
	if n.Kind != yaml.MappingNode {
		d.report(posOf(n), RuleInvalidValue, "%s must be a mapping, not %s", what, describe(n))
		return nil
	}
	o := &object{d: d, node: n, what: what, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			d.report(posOf(k), RuleInvalidValue, "keys of %s must be strings", what)
			continue
		}
		if _, dup := o.vals[k.Value]; dup {
			d.report(posOf(k), RuleInvalidValue, "%s has the key %q twice", what, k.Value)
			continue
		}
		if known != nil && !slices.Contains(known, k.Value) {
			msg := fmt.Sprintf("%s has no field %q", what, k.Value)
			if s := closest(k.Value, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.report(posOf(k), RuleUnknownField, "%s", msg)
			continue
		}
		o.vals[k.Value], o.keys[k.Value] = v, k
	}
	return o
}

// keysInOrder returns the keys of the mapping in file order.
func (o *object) keysInOrder() []string {
	var ks []string
	for i := 0; i+1 < len(o.node.Content); i += 2 {
		k := o.node.Content[i]
		if o.keys[k.Value] == k {
			ks = append(ks, k.Value)
		}
	}
	return ks
}

func (o *object) has(key string) bool { _, ok := o.vals[key]; return ok }

// keyPos returns the position of key, or of the mapping if absent.
func (o *object) keyPos(key string) Pos {
	if k, ok := o.keys[key]; ok {
		return posOf(k)
	}
	return posOf(o.node)
}

// require reports a missing-field diagnostic for each absent key and
// reports whether all were present.
func (o *object) require(keys ...string) bool {
	ok := true
	for _, k := range keys {
		if !o.has(k) {
			o.d.report(posOf(o.node), RuleMissingField, "%s needs %q", o.what, k)
			ok = false
		}
	}
	return ok
}

// describe names the YAML type of n for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
	}
	return "an unsupported node"
}

// str returns the string value of key ("" and false if absent or invalid).
func (o *object) str(key string) (string, bool) {
	n, ok := o.vals[key]
	if !ok {
		return "", false
	}
	return o.d.str(n, fmt.Sprintf("%s of %s", key, o.what))
}

func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.report(posOf(n), RuleInvalidValue, "%s must be a string, not %s", what, describe(n))
		return "", false
	}
	if n.Value == "" {
		d.report(posOf(n), RuleInvalidValue, "%s must not be empty", what)
		return "", false
	}
	return n.Value, true
}

// name returns the value of key, which must match re (described by rule).
func (o *object) name(key string, re *regexp.Regexp, rule string) (string, bool) {
	s, ok := o.str(key)
	if !ok {
		return "", false
	}
	if !re.MatchString(s) {
		o.d.report(posOf(o.vals[key]), RuleInvalidValue, "%s of %s %q is not valid: %s", key, o.what, s, rule)
		return "", false
	}
	return s, true
}

// enum returns the value of key, which must be one of allowed.
func (o *object) enum(key string, allowed ...string) (string, bool) {
	s, ok := o.str(key)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, s) {
		o.d.report(posOf(o.vals[key]), RuleInvalidValue, "%s of %s must be one of %s, not %q", key, o.what, strings.Join(allowed, ", "), s)
		return "", false
	}
	return s, true
}

func (o *object) boolean(key string) (bool, bool) {
	n, ok := o.vals[key]
	if !ok {
		return false, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		o.d.report(posOf(n), RuleInvalidValue, "%s of %s must be true or false, not %s", key, o.what, describe(n))
		return false, false
	}
	b, _ := strconv.ParseBool(n.Value)
	return b, true
}

// integer returns the value of key, which must be an integer in [lo, hi].
func (o *object) integer(key string, lo, hi int) (int, bool) {
	n, ok := o.vals[key]
	if !ok {
		return 0, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		o.d.report(posOf(n), RuleInvalidValue, "%s of %s must be an integer, not %s", key, o.what, describe(n))
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || v < int64(lo) || v > int64(hi) {
		o.d.report(posOf(n), RuleInvalidValue, "%s of %s must be between %d and %d", key, o.what, lo, hi)
		return 0, false
	}
	return int(v), true
}

// duration returns the value of key, a Go duration string in [lo, hi].
func (o *object) duration(key string, lo, hi time.Duration) (time.Duration, bool) {
	s, ok := o.str(key)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < lo || v > hi {
		o.d.report(posOf(o.vals[key]), RuleInvalidValue, "%s of %s must be a duration between %s and %s, such as \"5m\"", key, o.what, fmtDuration(lo), fmtDuration(hi))
		return 0, false
	}
	return v, true
}

func fmtDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	return s
}

// list returns the items of the sequence at key.
func (o *object) list(key string) ([]*yaml.Node, bool) {
	n, ok := o.vals[key]
	if !ok {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		o.d.report(posOf(n), RuleInvalidValue, "%s of %s must be a list, not %s", key, o.what, describe(n))
		return nil, false
	}
	if len(n.Content) == 0 {
		o.d.report(posOf(n), RuleInvalidValue, "%s of %s must not be empty", key, o.what)
		return nil, false
	}
	return n.Content, true
}

// closest returns the candidate nearest to s by edit distance, if within 2.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if dist := editDistance(s, c); dist < bestD {
			best, bestD = c, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// scalarPos returns a function mapping a byte offset in the value of the
// scalar n to its position in the file. Offsets map exactly for one-line
// plain and quoted scalars (up to escapes) and for literal block scalars;
// other styles map to the start of the node.
func (d *decoder) scalarPos(n *yaml.Node) func(int) Pos {
	base := posOf(n)
	v := n.Value
	switch {
	case n.Style&yaml.LiteralStyle != 0:
		return func(off int) Pos {
			if off < 0 || off > len(v) {
				return base
			}
			k := strings.Count(v[:off], "\n")
			lineStart := strings.LastIndexByte(v[:off], '\n') + 1
			lineEnd := strings.IndexByte(v[lineStart:], '\n')
			if lineEnd < 0 {
				lineEnd = len(v) - lineStart
			}
			valueLine := v[lineStart : lineStart+lineEnd]
			// The first content line follows the indicator line, unless
			// the value starts with blank lines, which shift nothing here.
			ln := base.Line + 1 + k
			if ln-1 >= len(d.lines) || !strings.HasSuffix(d.lines[ln-1], valueLine) {
				return base
			}
			indent := len(d.lines[ln-1]) - len(valueLine)
			return Pos{Line: ln, Column: indent + 1 + utf8.RuneCountInString(v[lineStart:off])}
		}
	case strings.Contains(v, "\n") || n.Style&yaml.FoldedStyle != 0:
		return func(int) Pos { return base }
	default:
		shift := 0
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			shift = 1
		}
		return func(off int) Pos {
			if off < 0 || off > len(v) {
				return base
			}
			return Pos{Line: base.Line, Column: base.Column + shift + utf8.RuneCountInString(v[:off])}
		}
	}
}
