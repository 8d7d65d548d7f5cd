package flow

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/secureflow/secureflow/internal/detect"
)

// Filter is a template filter: {{ card | last4 }}. Every filter is a masking
// filter: applied to a secret it yields a public string, and it is the only
// way a secret reaches text. Which filters a secret accepts depends on its
// [InputType] (see [InputType.Allows]).
type Filter string

// Filters.
const (
	// FilterMask replaces the value by its type's mask, the one the gateway
	// shows for the same kind of value detected in chat: "[card ••••4242]",
	// "[cpf •••.•••.•••-09]", or a bare label such as "[password]".
	FilterMask Filter = "mask"
	// FilterLast4 keeps the last four characters.
	FilterLast4 Filter = "last4"
	// FilterFirst6Last4 keeps a card number's first six and last four
	// digits, the most PCI DSS allows to display.
	FilterFirst6Last4 Filter = "first6last4"
	// FilterBrand names a card's scheme ("visa", "mastercard", "elo", ...).
	FilterBrand Filter = "brand"
	// FilterLength gives the number of characters.
	FilterLength Filter = "length"
	// FilterToken gives the vault token that stands for the value.
	FilterToken Filter = "token"
)

// allFilters lists the filters in documentation order; a filter's index is
// its bit in a filterSet.
var allFilters = [...]Filter{FilterMask, FilterLast4, FilterFirst6Last4, FilterBrand, FilterLength, FilterToken}

// Valid reports whether f is a known filter.
func (f Filter) Valid() bool { return f.index() >= 0 }

func (f Filter) index() int {
	for i, g := range allFilters {
		if f == g {
			return i
		}
	}
	return -1
}

// filterSet is a set of filters, one bit per index in allFilters.
type filterSet uint8

func filtersOf(fs ...Filter) filterSet {
	var s filterSet
	for _, f := range fs {
		s |= 1 << f.index()
	}
	return s
}

func (s filterSet) has(f Filter) bool {
	i := f.index()
	return i >= 0 && s&(1<<i) != 0
}

func (s filterSet) list() []Filter {
	var out []Filter
	for _, f := range allFilters {
		if s.has(f) {
			out = append(out, f)
		}
	}
	return out
}

// hidden stands for a value too short to mask safely.
const hidden = "••••"

// ApplyFilter applies filter f to raw, the normal form (see [Field.Validate])
// of a secret of type t, and returns the public result. It refuses filters t
// does not allow with [ErrFilterNotAllowed], and the token filter, which
// only the vault can answer, with [ErrFilterUnavailable]. The error never
// contains raw.
func ApplyFilter(t InputType, f Filter, raw string) (string, error) {
	if !t.Allows(f) {
		return "", fmt.Errorf("%w: %s on %s", ErrFilterNotAllowed, f, t)
	}
	switch f {
	case FilterMask:
		return maskOf(t, raw), nil
	case FilterLast4:
		if t == InputPhone {
			raw = detect.Digits(raw)
		}
		return lastRunes(raw, 4), nil
	case FilterFirst6Last4:
		return first6Last4(raw), nil
	case FilterBrand:
		return detect.CardBrand(detect.Digits(raw)), nil
	case FilterLength:
		return strconv.Itoa(utf8.RuneCountInString(raw)), nil
	case FilterToken:
		return "", fmt.Errorf("%w: %s", ErrFilterUnavailable, f)
	}
	return "", fmt.Errorf("%w: unknown filter %q", ErrFilterNotAllowed, f)
}

// applyPublic applies filter f to a public value s. Filters on public values
// cannot disclose anything; token leaves a public value as it is.
func applyPublic(f Filter, s string) (string, error) {
	switch f {
	case FilterMask:
		return "[value]", nil
	case FilterLast4:
		return lastRunes(s, 4), nil
	case FilterFirst6Last4:
		return first6Last4(s), nil
	case FilterBrand:
		return detect.CardBrand(detect.Digits(s)), nil
	case FilterLength:
		return strconv.Itoa(utf8.RuneCountInString(s)), nil
	case FilterToken:
		return s, nil
	}
	return "", fmt.Errorf("%w: unknown filter %q", ErrFilterNotAllowed, f)
}

// maskOf returns the mask of a secret of type t in normal form: the mask
// the gateway shows for the same kind of value detected in chat, such as
// "[card ••••1111]" or "[cpf •••.•••.•••-09]", or a bare label such as
// "[password]" for types whose every character is secret.
func maskOf(t InputType, raw string) string {
	return detect.Mask(inputTypes[t].entity, raw)
}

// first6Last4 shows a card number's first six and last four digits when it
// has at least 16, and only the last four otherwise: the display policy of
// [detect.MaskCard], without its brackets.
func first6Last4(raw string) string {
	m := detect.MaskCard(raw, true)
	if !strings.HasPrefix(m, "[card ") {
		return hidden
	}
	return strings.TrimSuffix(strings.TrimPrefix(m, "[card "), "]")
}

func lastRunes(s string, n int) string {
	c := utf8.RuneCountInString(s)
	if c <= n {
		return s
	}
	for i := range s {
		if c == n {
			return s[i:]
		}
		c--
	}
	return s
}

// Secret is a secret value as templates see it: it can only answer through
// a masking filter. The engine implements it over its vault; [Sealed] is an
// implementation that holds precomputed masks.
type Secret interface {
	// Masked returns the value after filter f, or an error wrapping
	// [ErrFilterNotAllowed] or [ErrFilterUnavailable].
	Masked(f Filter) (string, error)
}

// Sealed is a [Secret] that holds only the public forms of a value, computed
// once by [Seal]; the value itself is not kept. The zero Sealed answers
// every filter with [ErrFilterUnavailable].
type Sealed struct {
	typ   InputType
	forms [len(allFilters)]string
	have  filterSet
}

// Seal computes every filter t allows over raw, the normal form of a secret
// of type t, and returns them without raw. The token filter is added with
// [Sealed.WithToken].
func Seal(t InputType, raw string) Sealed {
	s := Sealed{typ: t}
	for i, f := range allFilters {
		if v, err := ApplyFilter(t, f, raw); err == nil {
			s.forms[i] = v
			s.have |= 1 << i
		}
	}
	return s
}

// WithToken returns a copy of s whose token filter yields token.
func (s Sealed) WithToken(token string) Sealed {
	if s.typ.Allows(FilterToken) {
		i := FilterToken.index()
		s.forms[i] = token
		s.have |= 1 << i
	}
	return s
}

// Forms returns the public forms s holds, by filter, so that an engine can
// store them and answer [Secret.Masked] later without the value.
func (s Sealed) Forms() map[Filter]string {
	out := make(map[Filter]string, len(allFilters))
	for i, f := range allFilters {
		if s.have.has(f) {
			out[f] = s.forms[i]
		}
	}
	return out
}

// Type returns the input type s was sealed as.
func (s Sealed) Type() InputType { return s.typ }

// Masked implements [Secret].
func (s Sealed) Masked(f Filter) (string, error) {
	if !s.typ.Allows(f) {
		return "", fmt.Errorf("%w: %s on %s", ErrFilterNotAllowed, f, s.typ)
	}
	if !s.have.has(f) {
		return "", fmt.Errorf("%w: %s", ErrFilterUnavailable, f)
	}
	return s.forms[f.index()], nil
}

// String returns a placeholder naming the type, never a form of the value.
func (s Sealed) String() string { return "[secret " + string(s.typ) + "]" }

// GoString returns the same placeholder as String, for %#v.
func (s Sealed) GoString() string { return s.String() }
