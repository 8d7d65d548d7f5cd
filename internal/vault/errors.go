package vault

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers branch on them with errors.Is; messages never
// contain values, and contain tokens only where the caller already had them.
var (
	// ErrNotFound: no live record has this token (never existed, deleted,
	// swept, or an ephemeral value already consumed).
	ErrNotFound = errors.New("vault: token not found")
	// ErrDenied: the policy does not let this principal reveal this kind
	// for this purpose. The attempt is audited.
	ErrDenied = errors.New("vault: reveal denied by policy")
	// ErrExpired: the record outlived its retention class. It is erased as
	// it is reported.
	ErrExpired = errors.New("vault: token expired")
	// ErrInvalid: the request is malformed (unknown kind, a value that does
	// not fit the requested format, missing principal...). The message
	// names the field, never the value.
	ErrInvalid = errors.New("vault: invalid request")
	// ErrIntegrity: a stored key or value does not authenticate under its
	// associated data: the row was tampered with, moved, or its key was
	// retired. Tink gives no more detail, by design.
	ErrIntegrity = errors.New("vault: stored record does not authenticate")
	// ErrNoKeys: the store holds no keysets and Config.CreateKeys was
	// false (run "secureflow keys init").
	ErrNoKeys = errors.New("vault: no keysets in the store")
	// ErrConflict is returned by a [Store] when a compare-and-set lost to a
	// concurrent writer; the vault retries or reports it.
	ErrConflict = errors.New("vault: concurrent update")
	// ErrAuditBroken is wrapped by the [*AuditError] [VerifyAudit] returns.
	ErrAuditBroken = errors.New("vault: audit log broken")
	// ErrKEK: the KEK could not be loaded, or does not decrypt the
	// keysets (a wrong KEK). The message names the source, never key bytes.
	ErrKEK = errors.New("vault: key-encryption key")
)

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// AuditError reports the first entry at which the audit log stops being a
// valid chain.
type AuditError struct {
	// Seq is the sequence number of the first entry that fails: the edited
	// entry, the first missing one, or the first one out of place.
	Seq int64
	// Reason says what failed.
	Reason string
}

// Error implements error.
func (e *AuditError) Error() string {
	return fmt.Sprintf("vault: audit log broken at entry %d: %s", e.Seq, e.Reason)
}

// Unwrap makes errors.Is(err, ErrAuditBroken) true.
func (e *AuditError) Unwrap() error { return ErrAuditBroken }
