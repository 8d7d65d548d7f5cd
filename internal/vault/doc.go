// Package vault keeps the secrets secureflow captures (card numbers, CPFs,
// security codes, passwords) and hands out tokens in their place. Everything
// that reaches the contact centre is a token or a mask; the value itself is
// encrypted here, revealed only to a principal the [Policy] allows for a
// stated purpose, every such access is written to a hash-chained audit log,
// and every value is deleted when its retention class says so.
//
// All cryptography is Tink's (github.com/tink-crypto/tink-go/v2); this
// package chooses keys, associated data and encodings, and documents each
// choice below so that an assessor can check it. docs/vault.md is the
// operator's and assessor's version of this comment.
//
// # Key hierarchy
//
//	KEK (file, environment or KMS)              never stored by the vault
//	 ├─ values keyset       Tink AES-256-GCM      encrypted under the KEK, in the store
//	 │   └─ data key (DEK)  Tink AES-256-GCM      one per record, wrapped by the values keyset
//	 │        └─ the value                        encrypted under its own DEK
//	 └─ fingerprint keyset  Tink HMAC-SHA256 PRF  encrypted under the KEK, in the store
//
// Why each level is there:
//
//   - The key-encryption key ([KEK]) is a Tink AEAD reached through a small
//     interface: a Tink keyset in a file ([LoadKEKFile], created mode 0600 by
//     [GenerateKEKFile]), in an environment variable ([KEKFromEnv]), or any
//     KMS-backed tink.AEAD ([WrapAEAD]). It encrypts only the two keysets,
//     with associated data naming each keyset's purpose, so the two blobs
//     cannot be swapped and a keyset of another application encrypted under
//     the same KEK is rejected.
//   - The values keyset wraps one fresh data key per record (envelope
//     encryption). A DEK encrypts exactly one value, once, so AES-GCM's
//     random-nonce limit never applies to values; the keyset key performs one
//     wrap per record, and rotation keeps each key far below the 2^32
//     messages NIST SP 800-38D allows under random nonces.
//   - The fingerprint keyset computes keyed fingerprints (HMAC-SHA256 as a
//     PRF) for "is this the same card as before" questions and derives
//     deterministic tokens. Without the key a fingerprint is a random
//     string; with it, low-entropy values could be enumerated, which is why
//     the key lives under the KEK like the values keyset.
//
// # Contract of a stored record
//
// A [Record] holds metadata in clear (token, kind, format, retention,
// expiry, key ids) and two opaque blobs: the DEK, wrapped by the values
// keyset, and the value, encrypted under that DEK. Both are bound by
// associated data to the record's token, kind, format, scope, session,
// retention class and expiry, so that:
//
//   - a blob copied into another row, or a row whose kind, retention or
//     expiry was edited in the database, fails to decrypt ([ErrIntegrity])
//     instead of revealing the value under another token or for longer
//     than its class allows;
//   - deleting a record's wrapped DEK is enough to make its ciphertext
//     undecryptable (crypto-shredding), and the store deletes both.
//
// # Tokens
//
// [FormatOpaque] tokens are "tok_" and 22 base58 characters: 128 bits from
// crypto/rand, so guessing one is hopeless and they carry nothing of the
// value. [FormatCard] tokens keep the length, separators and last four
// digits of the card, start with a configurable prefix that no card scheme
// issues (default "9"), and pass the Luhn check; [FormatCPF] tokens are
// valid CPFs. Format-preserving tokens are drawn at random, never equal the
// value, and are inserted only if no live record and no tombstone holds the
// same token, so a token, once deleted, never names another value. A
// deterministic token (Options.Deterministic) is derived from the
// fingerprint keyset within a scope, so the same value gets the same token
// there and nowhere else.
//
// # Retention
//
// Every record has a [Retention] class: ephemeral (sensitive authentication
// data such as a security code: single use, erased by the first successful
// Reveal and never older than Config.EphemeralMaxAge), session (erased by
// [Vault.EndSession], never older than Config.SessionMaxAge), days:N and
// permanent. [Vault.Sweep] erases expired records; a Reveal that finds one
// erases it on the spot.
//
// # Audit
//
// Every tokenize, reveal (allowed or not), delete, expiry and key operation
// appends an [AuditEntry] in the same store transaction as the operation,
// so there is no reveal without an entry. Entries are chained: each hash is
// SHA-256 over the previous hash and the entry's canonical encoding, so
// [VerifyAudit] finds an edited, removed or reordered entry and names it.
// Entries never contain values or fingerprints; a reveal of an unknown
// token records a keyed digest of what was asked for, not the string itself,
// in case a caller passed a value where a token belongs.
//
// # Rotation
//
// [Vault.Rotate] adds a new primary key to both keysets; older keys keep
// decrypting. [Vault.Rewrap] moves every record to the primaries, giving
// each a fresh DEK, and [Vault.Retire] then deletes keys no record uses,
// which also makes any copy of old rows (a backup, a freed disk block)
// undecryptable. [Vault.Status] reports how many records each key protects.
// [Vault.ChangeKEK] re-encrypts the keysets under another KEK.
package vault
