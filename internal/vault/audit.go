package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// Action is what an audit entry records.
type Action string

// Actions.
const (
	ActionTokenize   Action = "tokenize"
	ActionReveal     Action = "reveal"
	ActionDelete     Action = "delete"
	ActionExpire     Action = "expire"      // erased by the sweeper or on access after expiry
	ActionKeysInit   Action = "keys.init"   // keysets created
	ActionKeysRotate Action = "keys.rotate" // new primary keys
	ActionKeysRewrap Action = "keys.rewrap" // records moved to the primary keys
	ActionKeysRetire Action = "keys.retire" // unused keys deleted
	ActionKEKChange  Action = "keys.kek"    // keysets re-encrypted under another KEK
)

// Outcome is how an audited operation ended.
type Outcome string

// Outcomes.
const (
	OutcomeOK       Outcome = "ok"
	OutcomeExisting Outcome = "existing" // a deterministic tokenize found the value's token
	OutcomeDenied   Outcome = "denied"
	OutcomeNotFound Outcome = "not_found"
	OutcomeExpired  Outcome = "expired"
	OutcomeInvalid  Outcome = "invalid"
	OutcomeError    Outcome = "error" // the record failed to authenticate
)

// HashSize is the size of audit hashes (SHA-256).
const HashSize = sha256.Size

// AuditEntry is one line of the audit log. It never holds a value or a
// fingerprint: tokens, kinds, principals, purposes and key ids only.
type AuditEntry struct {
	// Seq numbers entries from 1 without gaps. Assigned by the store.
	Seq int64
	// At is when the operation happened, at millisecond precision.
	At time.Time
	// Action and Outcome say what happened.
	Action  Action
	Outcome Outcome
	// Principal is who asked: a component ("action:payment-gateway"), an
	// operator ("operator:alice"), or "system:sweeper".
	Principal string
	// Purpose is the reason given for a reveal or delete.
	Purpose string
	// Token is the record concerned, when there is one and it exists.
	Token string
	// Kind is the record's kind.
	Kind Kind
	// KeyID is the values-keyset key involved (the DEK wrapping key on
	// tokenize, the new primary on rotate), or 0.
	KeyID uint32
	// Detail is free text without secrets ("consumed", "rows=12").
	Detail string
	// PrevHash is the previous entry's Hash (32 zero bytes for entry 1),
	// and Hash is SHA-256 over "secureflow/audit/v1", PrevHash and the
	// canonical encoding of every other field. Both are set by the store
	// through [ChainAuditEntry].
	PrevHash []byte
	Hash     []byte
}

// auditDomain separates audit hashes from any other SHA-256 use.
const auditDomain = "secureflow/audit/v1"

// canonical encodes every field but the hashes unambiguously: integers as
// fixed-width big-endian, strings as a uvarint length and the bytes, in a
// fixed order. Two different entries never encode the same.
func (e *AuditEntry) canonical() []byte {
	b := make([]byte, 0, 128+len(e.Principal)+len(e.Purpose)+len(e.Token)+len(e.Detail))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(unixMS(e.At)))
	for _, s := range []string{string(e.Action), string(e.Outcome), e.Principal, e.Purpose, e.Token, string(e.Kind), e.Detail} {
		b = appendString(b, s)
	}
	b = binary.BigEndian.AppendUint32(b, e.KeyID)
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func auditHash(prev []byte, e *AuditEntry) []byte {
	h := sha256.New()
	h.Write([]byte(auditDomain))
	h.Write(prev)
	h.Write(e.canonical())
	return h.Sum(nil)
}

// ChainAuditEntry completes e as the entry after the one with sequence
// prevSeq and hash prevHash (0 and nil when the log is empty): it sets Seq,
// truncates At to the millisecond, and sets PrevHash and Hash.
//
// Store implementations call it inside the transaction that appends e,
// after reading the last entry under a lock that serializes appends (SQLite
// has one writer; PostgreSQL locks the head row), so the chain never forks.
func ChainAuditEntry(prevSeq int64, prevHash []byte, e AuditEntry) AuditEntry {
	if prevSeq == 0 {
		prevHash = make([]byte, HashSize)
	}
	e.Seq = prevSeq + 1
	e.At = msTime(e.At)
	e.PrevHash = bytes.Clone(prevHash)
	e.Hash = auditHash(e.PrevHash, &e)
	return e
}

// AuditSource lists audit entries with Seq above afterSeq, in Seq order, at
// most limit of them. [Store] implements it, and so does a read-only view
// of a database for "secureflow audit verify".
type AuditSource interface {
	Audit(ctx context.Context, afterSeq int64, limit int) ([]AuditEntry, error)
}

// Anchor is an entry whose hash was recorded outside the database (printed
// by "audit verify", copied to a ticket or a SIEM). A chain only proves that
// nothing changed relative to its own head: someone able to rewrite the
// database can rewrite the whole tail and recompute it, or cut it off. An
// anchor pins the log up to its entry.
type Anchor struct {
	Seq  int64
	Hash []byte
}

// ParseAnchor parses "SEQ:HEXHASH" as printed by AuditReport.String.
func ParseAnchor(s string) (Anchor, error) {
	var a Anchor
	seq, h, ok := bytes.Cut([]byte(s), []byte(":"))
	if !ok {
		return a, invalid("anchor must be SEQ:SHA256HEX")
	}
	if _, err := fmt.Sscanf(string(seq), "%d", &a.Seq); err != nil || a.Seq < 1 {
		return a, invalid("anchor must be SEQ:SHA256HEX")
	}
	hb, err := hex.DecodeString(string(h))
	if err != nil || len(hb) != HashSize {
		return a, invalid("anchor must be SEQ:SHA256HEX")
	}
	a.Hash = hb
	return a, nil
}

// AuditReport summarizes a verified log.
type AuditReport struct {
	// Entries is the number of entries checked.
	Entries int64
	// HeadSeq and HeadHash identify the last entry: record them elsewhere
	// to anchor a later verification.
	HeadSeq  int64
	HeadHash []byte
}

// String prints the head as an anchor: "SEQ:HEXHASH".
func (r AuditReport) String() string {
	return fmt.Sprintf("%d:%x", r.HeadSeq, r.HeadHash)
}

// VerifyAudit reads the whole log from src and checks that it is one
// unbroken chain from entry 1: sequence numbers without gaps, each entry's
// PrevHash equal to the previous entry's Hash, and each Hash equal to the
// hash recomputed from the entry's content. It then checks every anchor. It
// returns an [*AuditError] naming the first entry that fails; I/O errors are
// returned as they are.
func VerifyAudit(ctx context.Context, src AuditSource, anchors ...Anchor) (AuditReport, error) {
	const page = 1000
	var rep AuditReport
	prevHash := make([]byte, HashSize)
	want := map[int64][]byte{}
	for _, a := range anchors {
		want[a.Seq] = a.Hash
	}
	after := int64(0)
	for {
		es, err := src.Audit(ctx, after, page)
		if err != nil {
			return rep, fmt.Errorf("vault: read audit log: %w", err)
		}
		for i := range es {
			e := &es[i]
			expect := rep.HeadSeq + 1
			switch {
			case e.Seq > expect:
				return rep, &AuditError{Seq: expect, Reason: fmt.Sprintf("entry missing (next entry is %d)", e.Seq)}
			case e.Seq < expect:
				return rep, &AuditError{Seq: e.Seq, Reason: "entry out of order"}
			case !bytes.Equal(e.PrevHash, prevHash):
				return rep, &AuditError{Seq: e.Seq, Reason: fmt.Sprintf("does not chain to entry %d (removed, reordered or rewritten entries)", e.Seq-1)}
			case !bytes.Equal(e.Hash, auditHash(prevHash, e)):
				return rep, &AuditError{Seq: e.Seq, Reason: "content does not match its hash (edited entry)"}
			}
			if h, ok := want[e.Seq]; ok && !bytes.Equal(h, e.Hash) {
				return rep, &AuditError{Seq: e.Seq, Reason: "hash differs from the anchor recorded for it (the log was rewritten)"}
			}
			prevHash = e.Hash
			rep.HeadSeq, rep.HeadHash = e.Seq, e.Hash
			rep.Entries++
		}
		if len(es) < page {
			break
		}
		after = rep.HeadSeq
	}
	for _, a := range anchors {
		if a.Seq > rep.HeadSeq {
			return rep, &AuditError{Seq: rep.HeadSeq + 1, Reason: fmt.Sprintf("log ends at entry %d but entry %d was anchored (truncated)", rep.HeadSeq, a.Seq)}
		}
	}
	return rep, nil
}
