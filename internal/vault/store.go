package vault

import (
	"context"
	"time"
)

// Record is one tokenized value as a [Store] keeps it. Only WrappedDEK and
// Ciphertext are secret, and both are encrypted; the rest is metadata the
// store needs to index, expire and count. Fingerprint is a keyed PRF output,
// useless without the fingerprint keyset.
type Record struct {
	// Token is the primary key.
	Token string
	Kind  Kind
	// Format is the token's format.
	Format Format
	// Scope is the deterministic-token scope ("" for random tokens).
	Scope string
	// Session is the session a ClassSession record belongs to.
	Session string
	// Retention is the record's class; ExpiresAt the instant it expires
	// (zero: never). Both are bound into the associated data.
	Retention Retention
	ExpiresAt time.Time
	// Deterministic marks tokens derived from the value; the store keeps
	// (Kind, Scope, Format, FingerprintKeyID, Fingerprint) unique among
	// them.
	Deterministic bool
	// CreatedAt is when the record was first written.
	CreatedAt time.Time
	// FingerprintKeyID is the fingerprint-keyset key Fingerprint was
	// computed with.
	FingerprintKeyID uint32
	Fingerprint      []byte
	// DEKKeyID is the values-keyset key that wrapped WrappedDEK.
	DEKKeyID uint32
	// WrappedDEK is the record's data key, a Tink keyset encrypted by the
	// values keyset (keyset.Handle.WriteWithAssociatedData, binary).
	WrappedDEK []byte
	// Ciphertext is the value encrypted under the DEK.
	Ciphertext []byte
}

// Insertion is a record to insert and the audit entry that records it.
type Insertion struct {
	Record Record
	Audit  AuditEntry
}

// Update replaces a record's protection (a re-wrap, or a deterministic
// token whose retention is extended): Retention, ExpiresAt,
// FingerprintKeyID, Fingerprint, DEKKeyID, WrappedDEK and Ciphertext are
// written from Record; Token identifies the row; other fields are ignored.
// It applies only if the row still has ExpectWrappedDEK (compare-and-set:
// a concurrent delete or re-wrap wins).
type Update struct {
	Record           Record
	ExpectWrappedDEK []byte
}

// Deletion erases one record. When Tombstone is set the store remembers the
// token forever so it is never issued again (format-preserving tokens are
// drawn from a small space; a reused token would let an old holder reveal
// someone else's value). Audit is appended only if the record existed.
type Deletion struct {
	Token     string
	Tombstone bool
	Audit     AuditEntry
}

// RecordRef names a record for the sweeper.
type RecordRef struct {
	Token  string
	Kind   Kind
	Format Format
}

// DeterministicKey looks up a deterministic record by fingerprint.
type DeterministicKey struct {
	Kind             Kind
	Scope            string
	Format           Format
	FingerprintKeyID uint32
	Fingerprint      []byte
}

// KeyUsage counts live records per key id: Values by DEKKeyID,
// Fingerprints by FingerprintKeyID.
type KeyUsage struct {
	Values       map[uint32]int64
	Fingerprints map[uint32]int64
}

// StoredKeysets are the two keysets as the store keeps them: Tink
// EncryptedKeyset protos (binary), each encrypted under the KEK with
// associated data naming its purpose.
type StoredKeysets struct {
	// Generation starts at 1 and grows by one with every change; it is the
	// compare-and-set token of SaveKeysets.
	Generation int64
	// KEKID is the ID of the KEK they are encrypted under.
	KEKID string
	// Values is the AES-256-GCM keyset that wraps data keys.
	Values []byte
	// Fingerprints is the HMAC-SHA256 PRF keyset.
	Fingerprints []byte
	// UpdatedAt is when this generation was saved.
	UpdatedAt time.Time
}

// Store persists the vault. It is defined here, where it is used, and
// implemented by store/sqlite (and the PostgreSQL store); every
// implementation must pass vaulttest.Run.
//
// Contract, for implementers:
//
//   - Every method is safe for concurrent use, across processes sharing the
//     database too, and honours ctx.
//   - Every method that takes an AuditEntry appends it (through
//     [ChainAuditEntry], under a lock that serializes appends) in the same
//     transaction as the change it records, and only if the change
//     happened. No change without its entry, no entry without its change.
//   - Deleting or updating a record must not leave its old WrappedDEK or
//     Ciphertext readable in the database files when the call returns, as
//     far as the engine allows: SQLite runs with secure_delete and
//     checkpoints its WAL; PostgreSQL relies on VACUUM and is documented
//     as such.
//   - Lookups of a missing token return an error wrapping [ErrNotFound];
//     lost compare-and-sets return one wrapping [ErrConflict].
//   - Times are kept at millisecond precision and returned in UTC.
//   - The audit log is append-only: no method changes or removes entries.
type Store interface {
	// Keysets returns the stored keysets, or ErrNotFound if there are none.
	Keysets(ctx context.Context) (StoredKeysets, error)
	// SaveKeysets stores ks if ks.Generation is exactly one more than the
	// stored generation (1 when there is none), and appends audit;
	// ErrConflict otherwise.
	SaveKeysets(ctx context.Context, ks StoredKeysets, audit AuditEntry) error

	// Insert inserts records in one transaction. An item whose token is
	// live or tombstoned, or which as a deterministic record would repeat
	// another's (Kind, Scope, Format, FingerprintKeyID, Fingerprint), is
	// skipped (false in the result) and its entry not appended; the others
	// are inserted with their entries.
	Insert(ctx context.Context, items []Insertion) ([]bool, error)
	// Get returns the live record with this token (expired or not).
	Get(ctx context.Context, token string) (Record, error)
	// FindDeterministic returns the deterministic record matching any of
	// keys, or ErrNotFound.
	FindDeterministic(ctx context.Context, keys []DeterministicKey) (Record, error)
	// Update applies updates in one transaction, each only if its
	// compare-and-set holds, and appends audit (when not nil) if at least
	// one applied. It reports which applied.
	Update(ctx context.Context, updates []Update, audit *AuditEntry) ([]bool, error)
	// Delete erases records in one transaction (row, wrapped DEK,
	// ciphertext, fingerprint), leaving tombstones where asked, and appends
	// each deletion's entry if its record existed. It reports which
	// existed.
	Delete(ctx context.Context, dels []Deletion) ([]bool, error)

	// Expired lists up to limit records whose expiry is set and not after
	// now, earliest first.
	Expired(ctx context.Context, now time.Time, limit int) ([]RecordRef, error)
	// SessionRecords lists up to limit records of a session.
	SessionRecords(ctx context.Context, session string, limit int) ([]RecordRef, error)
	// Stale lists, in token order after afterToken, up to limit records
	// not protected by both valuesKeyID (DEKKeyID) and fingerprintKeyID.
	Stale(ctx context.Context, valuesKeyID, fingerprintKeyID uint32, afterToken string, limit int) ([]Record, error)
	// KeyUsage counts records per key.
	KeyUsage(ctx context.Context) (KeyUsage, error)

	// AppendAudit appends one entry on its own (reveals, refusals) and
	// returns it as chained.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// Audit lists entries, see AuditSource.
	Audit(ctx context.Context, afterSeq int64, limit int) ([]AuditEntry, error)
}
