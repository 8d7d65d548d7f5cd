// Package redact applies the detection policy to chat text in flight: it
// finds sensitive spans with package detect and, per entity and direction,
// tokenizes, masks, drops or allows each one, before the text is stored or
// forwarded.
//
// Customers paste card numbers, CPFs and passwords into ordinary chat.
// Masking after the fact is too late (the agent saw it) and ingestion
// filters destroy the value; the redactor rewrites the message before the
// contact centre sees it and, for "tokenize", keeps the value usable through
// a vault token the contact centre can pass to a data action.
package redact

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/secureflow/secureflow/internal/detect"
	"github.com/secureflow/secureflow/internal/secret"
)

// Action is what happens to a detected span.
type Action string

// Actions.
const (
	// Tokenize stores the value in the vault and replaces it with its mask
	// and a token; without a vault it behaves like Mask.
	Tokenize Action = "tokenize"
	// Mask replaces the value with its mask (e.g. "[card ••••1111]").
	Mask Action = "mask"
	// Drop replaces the value with "[removed]", keeping nothing of it.
	Drop Action = "drop"
	// Allow leaves the value as written.
	Allow Action = "allow"
	// Block withholds the whole message (agent direction): the contact
	// centre is told it was not delivered.
	Block Action = "block"
)

// ErrUnknownAction and ErrUnknownEntity are returned by Parse.
var (
	ErrUnknownAction = errors.New("unknown action")
	ErrUnknownEntity = errors.New("unknown entity")
)

// Policy maps entities to actions. Entities it does not list are masked:
// the safe default for anything the scanner flags.
type Policy map[detect.Entity]Action

// DefaultCustomerPolicy is applied to what customers type: values a
// business process may need are tokenized, sensitive authentication data
// (CVV, PIN, OTP, expiry) is masked and never stored, and contact details
// the agent legitimately needs pass.
func DefaultCustomerPolicy() Policy {
	return Policy{
		detect.CreditCard: Tokenize, detect.CPF: Tokenize, detect.CNPJ: Tokenize, detect.IBAN: Tokenize,
		detect.SSN: Tokenize, detect.Password: Tokenize,
		detect.CVV: Mask, detect.CardExpiry: Mask, detect.PIN: Mask, detect.OTP: Mask, detect.Crypto: Mask,
		detect.Email: Allow, detect.Phone: Allow, detect.IPAddress: Allow,
	}
}

// DefaultAgentPolicy is applied to what agents send: a full card number,
// account number, national id or credential pasted into the chat is
// blocked; contact details pass.
func DefaultAgentPolicy() Policy {
	return Policy{
		detect.CreditCard: Block, detect.CPF: Mask, detect.CNPJ: Allow, detect.IBAN: Block, detect.SSN: Block,
		detect.Password: Block, detect.CVV: Block, detect.PIN: Block, detect.OTP: Mask, detect.CardExpiry: Mask,
		detect.Crypto: Allow, detect.Email: Allow, detect.Phone: Allow, detect.IPAddress: Allow,
	}
}

// Override returns p with the entries of o (entity name → action name)
// applied, or an error naming every bad entry.
func (p Policy) Override(o map[string]string) (Policy, error) {
	out := make(Policy, len(p)+len(o))
	for k, v := range p {
		out[k] = v
	}
	known := detect.DefaultRegistry().Entities()
	var errs []error
	for name, act := range o {
		e := detect.Entity(strings.ToUpper(name))
		if !slices.Contains(known, e) {
			errs = append(errs, fmt.Errorf("%w %q", ErrUnknownEntity, name))
			continue
		}
		a := Action(strings.ToLower(act))
		switch a {
		case Tokenize, Mask, Drop, Allow, Block:
		default:
			errs = append(errs, fmt.Errorf("%s: %w %q (tokenize, mask, drop, allow or block)", name, ErrUnknownAction, act))
			continue
		}
		out[e] = a
	}
	return out, errors.Join(errs...)
}

// Tokenizer stores a value and returns a token for it. The vault implements
// it; kind is the lower-case entity name.
type Tokenizer interface {
	Tokenize(ctx context.Context, kind string, value secret.Value) (token string, err error)
}

// Finding describes one redacted span, without its value.
type Finding struct {
	Entity detect.Entity
	Action Action
	// Token is the vault token, for Tokenize with a vault.
	Token string
}

// Result is a redacted message.
type Result struct {
	// Text is the message to forward. Empty when Blocked.
	Text string
	// Findings lists what was found, in order.
	Findings []Finding
	// Blocked is set when a Block action withheld the whole message.
	Blocked bool
}

// Redactor applies a Policy. It is safe for concurrent use.
type Redactor struct {
	scanner *detect.Scanner
	policy  Policy
	tokens  Tokenizer // may be nil
}

// New returns a Redactor. tokens may be nil: Tokenize then masks.
func New(scanner *detect.Scanner, policy Policy, tokens Tokenizer) *Redactor {
	return &Redactor{scanner: scanner, policy: policy, tokens: tokens}
}

// Redact rewrites text under the policy. An error (the vault failing) is
// returned rather than forwarding the text unredacted; callers retry.
func (r *Redactor) Redact(ctx context.Context, text string) (Result, error) {
	spans := r.scanner.Scan(text)
	if len(spans) == 0 {
		return Result{Text: text}, nil
	}
	var b strings.Builder
	res := Result{Findings: make([]Finding, 0, len(spans))}
	last := 0
	for _, s := range spans {
		act, ok := r.policy[s.Entity]
		if !ok {
			act = Mask
		}
		f := Finding{Entity: s.Entity, Action: act}
		value := text[s.Start:s.End]
		b.WriteString(text[last:s.Start])
		switch act {
		case Allow:
			b.WriteString(value)
		case Block:
			res.Blocked = true
		case Drop:
			b.WriteString("[removed]")
		case Tokenize:
			m := detect.Mask(s.Entity, value)
			if r.tokens != nil {
				tok, err := r.tokens.Tokenize(ctx, strings.ToLower(string(s.Entity)), secret.FromString(value))
				if err != nil {
					return Result{}, fmt.Errorf("redact: tokenize %s: %w", s.Entity, err)
				}
				f.Token = tok
				m = strings.TrimSuffix(m, "]") + " " + tok + "]"
			}
			b.WriteString(m)
		default:
			b.WriteString(detect.Mask(s.Entity, value))
		}
		last = s.End
		res.Findings = append(res.Findings, f)
	}
	if res.Blocked {
		return Result{Findings: res.Findings, Blocked: true}, nil
	}
	b.WriteString(text[last:])
	res.Text = b.String()
	return res, nil
}
