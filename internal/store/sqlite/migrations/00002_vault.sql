-- +goose Up
-- The vault (internal/vault): keysets, tokenized records, retired tokens
-- and the hash-chained audit log. No column holds a value in clear:
-- wrapped_dek and ciphertext are Tink AES-256-GCM ciphertexts, fingerprint
-- is a keyed PRF output, everything else is metadata.

-- The two keysets, each a Tink EncryptedKeyset encrypted under the KEK.
-- One row; generation is the compare-and-set token of rotations.
CREATE TABLE vault_keysets (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    generation         INTEGER NOT NULL,
    kek_id             TEXT    NOT NULL,
    values_keyset      BLOB    NOT NULL,
    fingerprint_keyset BLOB    NOT NULL,
    updated_at         INTEGER NOT NULL -- unix milliseconds
);

CREATE TABLE vault_records (
    token         TEXT    NOT NULL PRIMARY KEY,
    kind          TEXT    NOT NULL,
    format        TEXT    NOT NULL,
    scope         TEXT    NOT NULL DEFAULT '',
    session       TEXT    NOT NULL DEFAULT '',
    retention     TEXT    NOT NULL,
    expires_at    INTEGER NOT NULL, -- unix milliseconds; 0 = never
    deterministic INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    fp_key_id     INTEGER NOT NULL,
    fingerprint   BLOB    NOT NULL,
    dek_key_id    INTEGER NOT NULL,
    wrapped_dek   BLOB    NOT NULL,
    ciphertext    BLOB    NOT NULL
) WITHOUT ROWID;
-- One deterministic token per value, kind, scope, format and key.
CREATE UNIQUE INDEX vault_records_deterministic
    ON vault_records (kind, scope, format, fp_key_id, fingerprint) WHERE deterministic = 1;
CREATE INDEX vault_records_expiry ON vault_records (expires_at, token) WHERE expires_at > 0;
CREATE INDEX vault_records_session ON vault_records (session) WHERE session <> '';
CREATE INDEX vault_records_dek_key ON vault_records (dek_key_id);
CREATE INDEX vault_records_fp_key ON vault_records (fp_key_id);

-- Format-preserving tokens once deleted: never issued again.
CREATE TABLE vault_tombstones (
    token      TEXT    NOT NULL PRIMARY KEY,
    retired_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The audit log. seq has no gaps; hash = SHA-256(domain, prev_hash,
-- canonical entry), see vault.ChainAuditEntry.
CREATE TABLE vault_audit (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    action    TEXT    NOT NULL,
    outcome   TEXT    NOT NULL,
    principal TEXT    NOT NULL,
    purpose   TEXT    NOT NULL,
    token     TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    key_id    INTEGER NOT NULL,
    detail    TEXT    NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL
);
-- Append-only, as far as the application is concerned. (Someone with the
-- file can drop these triggers; the hash chain and external anchors are
-- what detect that.)
-- +goose StatementBegin
CREATE TRIGGER vault_audit_no_update BEFORE UPDATE ON vault_audit
BEGIN
    SELECT RAISE(ABORT, 'vault_audit is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER vault_audit_no_delete BEFORE DELETE ON vault_audit
BEGIN
    SELECT RAISE(ABORT, 'vault_audit is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER vault_audit_no_delete;
DROP TRIGGER vault_audit_no_update;
DROP TABLE vault_audit;
DROP TABLE vault_tombstones;
DROP TABLE vault_records;
DROP TABLE vault_keysets;
