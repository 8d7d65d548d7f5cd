package detect

import (
	"errors"
	"fmt"
	"slices"
)

// A Detector recognizes one family of entities. The scanner calls Detect at
// every position the detector's triggers select (see [Trigger]) during its
// single left-to-right pass over the text.
//
// Detect must look at a bounded neighbourhood of at (so the pass stays
// linear), must never panic on any input, and must append only spans whose
// offsets lie within text, on UTF-8 character boundaries, with Start < End
// and a score in (0, 1]. Spans may lie before at (an e-mail address found at
// its "@") or after it (a password found after the word "password"); they may
// overlap each other, as the scanner resolves overlaps. Detect must be safe
// for concurrent use and must not retain text or dst.
type Detector interface {
	// Name identifies the detector in errors and documentation.
	Name() string
	// Entities lists every entity Detect may report.
	Entities() []Entity
	// Triggers lists where the scanner calls Detect.
	Triggers() []Trigger
	// Detect appends to dst the candidate spans it finds at offset at, and
	// returns the extended slice.
	Detect(text string, at int, dst []Span) []Span
}

// A Trigger selects scan positions: the scanner calls a detector at offset i
// when text[i] is one of Bytes, the byte before i (if any) is allowed by
// Boundary, and the bytes around i match Lookbehind and Lookahead. The
// filters are checked with table lookups, so a detector that states
// precisely where its values can start is called rarely and costs little.
type Trigger struct {
	// Bytes lists the bytes at which the detector may be called.
	Bytes string
	// Boundary restricts the class of the byte before i.
	Boundary Boundary
	// Lookbehind, if not empty, constrains the bytes before i:
	// text[i-1-k] must exist and be one of Lookbehind[k].
	Lookbehind []string
	// Lookahead, if not empty, constrains the bytes after i:
	// text[i+1+k] must exist and be one of Lookahead[k].
	Lookahead []string
}

// Boundary restricts the byte that may precede a trigger position.
type Boundary uint8

const (
	// AnyBoundary places no restriction: every occurrence triggers.
	AnyBoundary Boundary = iota
	// AfterNonDigit triggers unless the previous byte is an ASCII digit, so
	// a run of digits triggers once, at its first digit.
	AfterNonDigit
	// AfterNonWord triggers only at the start of the text or after a byte
	// that is neither an ASCII letter or digit nor part of a multi-byte
	// UTF-8 character: at the start of a word.
	AfterNonWord
)

// Character-class strings for building triggers.
const (
	DigitBytes  = "0123456789"
	UpperBytes  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	LowerBytes  = "abcdefghijklmnopqrstuvwxyz"
	LetterBytes = UpperBytes + LowerBytes
)

// Errors returned by Registry.Register.
var (
	// ErrDuplicateEntity means another registered detector already reports
	// one of the new detector's entities. Each entity has exactly one
	// detector, so that disabling or auditing an entity has one meaning.
	ErrDuplicateEntity = errors.New("detect: entity already registered")
	// ErrInvalidDetector means the detector reports no entity or declares
	// no trigger.
	ErrInvalidDetector = errors.New("detect: invalid detector")
)

// Registry is the list of detectors a Scanner runs. It is the one place
// where entities are declared: adding an entity means registering a
// detector. A Registry is not safe for concurrent mutation; build it, then
// create scanners from it (scanners copy what they need, so later changes
// to the registry do not affect existing scanners).
type Registry struct {
	detectors []Detector
	owner     map[Entity]string // entity -> detector name
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{owner: make(map[Entity]string)}
}

// DefaultRegistry returns a new registry holding every built-in detector:
// card numbers, CPF, CNPJ, IBAN, SSN, e-mail, phone, IP, crypto addresses,
// and the context-anchored secrets (CVV, card expiry, PIN, password, OTP).
func DefaultRegistry() *Registry {
	r := NewRegistry()
	for _, d := range builtinDetectors() {
		r.MustRegister(d)
	}
	return r
}

func builtinDetectors() []Detector {
	return []Detector{
		numberDetector{},
		cnpjDetector{},
		ibanDetector{},
		phoneDetector{},
		ipDetector{},
		emailDetector{},
		cryptoDetector{},
		contextDetector{},
	}
}

// Register adds d. It fails with ErrInvalidDetector if d reports no entity,
// has no trigger, has two triggers on one byte, or looks further around a
// trigger than the scanner supports (3 bytes behind, 7 ahead), and with ErrDuplicateEntity if an entity d reports is
// already reported by a registered detector.
func (r *Registry) Register(d Detector) error {
	if d == nil || len(d.Entities()) == 0 || len(d.Triggers()) == 0 {
		return ErrInvalidDetector
	}
	var seen [256]bool
	for _, t := range d.Triggers() {
		if t.Bytes == "" || t.Boundary > AfterNonWord {
			return fmt.Errorf("%w: %s: empty trigger or unknown boundary", ErrInvalidDetector, d.Name())
		}
		if len(t.Lookbehind) > maxLookbehind || len(t.Lookahead) > maxLookahead {
			return fmt.Errorf("%w: %s: lookaround longer than %d behind or %d ahead",
				ErrInvalidDetector, d.Name(), maxLookbehind, maxLookahead)
		}
		for i := 0; i < len(t.Bytes); i++ {
			if seen[t.Bytes[i]] {
				return fmt.Errorf("%w: %s: two triggers on byte %q", ErrInvalidDetector, d.Name(), t.Bytes[i])
			}
			seen[t.Bytes[i]] = true
		}
	}
	for _, e := range d.Entities() {
		if e == "" {
			return fmt.Errorf("%w: %s: empty entity name", ErrInvalidDetector, d.Name())
		}
		if prev, ok := r.owner[e]; ok {
			return fmt.Errorf("%w: %s reported by both %s and %s", ErrDuplicateEntity, e, prev, d.Name())
		}
	}
	for _, e := range d.Entities() {
		r.owner[e] = d.Name()
	}
	r.detectors = append(r.detectors, d)
	return nil
}

// MustRegister is Register that panics on error, for package-level setup.
func (r *Registry) MustRegister(d Detector) {
	if err := r.Register(d); err != nil {
		panic(err)
	}
}

// Detectors returns the registered detectors in registration order.
func (r *Registry) Detectors() []Detector { return slices.Clone(r.detectors) }

// Entities returns every entity the registered detectors report, in
// registration order.
func (r *Registry) Entities() []Entity {
	var es []Entity
	for _, d := range r.detectors {
		es = append(es, d.Entities()...)
	}
	return es
}
