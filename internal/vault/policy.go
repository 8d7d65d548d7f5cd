package vault

import (
	"slices"
	"unicode"
)

// Wildcard matches any kind or any purpose in a [Rule]. There is no
// wildcard principal: every principal allowed to reveal is named.
const Wildcard = "*"

// Rule lets one principal reveal some kinds for some purposes.
type Rule struct {
	// Principal is the component or operator asking, for example
	// "action:payment-gateway" or "flow:take-payment". Required.
	Principal string
	// Kinds lists the kinds it may reveal; "*" matches any. Required.
	Kinds []Kind
	// Purposes lists the purposes it may reveal them for, such as
	// "authorize-payment"; "*" matches any. Required: a purpose is always
	// stated and audited, and the rule says which ones are legitimate.
	Purposes []string
}

// Policy decides who may reveal what. It denies by default: a reveal is
// allowed only when a rule names the principal, the record's kind and the
// stated purpose. A Policy is immutable and safe for concurrent use.
type Policy struct {
	rules map[string][]Rule
}

// NewPolicy checks and indexes rules.
func NewPolicy(rules ...Rule) (*Policy, error) {
	p := &Policy{rules: map[string][]Rule{}}
	for i, r := range rules {
		if err := validName(r.Principal, 128); err != nil {
			return nil, invalid("policy rule %d: principal: %v", i, err)
		}
		if len(r.Kinds) == 0 || len(r.Purposes) == 0 {
			return nil, invalid("policy rule %d: kinds and purposes are required (use \"*\" for any)", i)
		}
		for _, k := range r.Kinds {
			if k != Wildcard {
				if err := k.validate(); err != nil {
					return nil, invalid("policy rule %d: %v", i, err)
				}
			}
		}
		for _, pu := range r.Purposes {
			if err := validName(pu, 128); err != nil {
				return nil, invalid("policy rule %d: purpose: %v", i, err)
			}
		}
		r.Kinds = slices.Clone(r.Kinds)
		r.Purposes = slices.Clone(r.Purposes)
		p.rules[r.Principal] = append(p.rules[r.Principal], r)
	}
	return p, nil
}

// Allows reports whether principal may reveal a value of kind for purpose.
// A nil Policy allows nothing.
func (p *Policy) Allows(principal string, kind Kind, purpose string) bool {
	if p == nil || principal == "" || purpose == "" {
		return false
	}
	for _, r := range p.rules[principal] {
		if (slices.Contains(r.Kinds, kind) || slices.Contains(r.Kinds, Wildcard)) &&
			(slices.Contains(r.Purposes, purpose) || slices.Contains(r.Purposes, Wildcard)) {
			return true
		}
	}
	return false
}

// validName checks a principal, purpose, scope or session: non-empty, at
// most max bytes, printable, no control characters (which could forge
// lines in a log or an audit export).
func validName(s string, max int) error {
	if s == "" {
		return errString("required")
	}
	if len(s) > max {
		return errString("too long")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			return errString("must be printable text")
		}
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }
