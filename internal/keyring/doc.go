// Package keyring provides the encryption-at-rest primitive of secureflow:
// an authenticated-encryption [Sealer] backed by a Tink AES-256-GCM keyset
// (the data keyset) that is itself stored encrypted under a key-encryption
// key (KEK). Nothing here is hand-rolled: Tink chooses nonces, formats
// ciphertexts with the key id, and decrypts with any key of the keyset, which
// is what makes rotation possible.
//
// # Contract
//
//   - Seal(plaintext, ad) returns a ciphertext that Open accepts only with
//     the same associated data. Callers bind each ciphertext to its row (for
//     an inbox event: its source and dedupe key), so a ciphertext copied into
//     another row fails to open instead of decrypting into the wrong place.
//   - The data keyset never touches disk in clear; the KEK is a Tink AEAD
//     keyset given by reference (file or environment, see package config).
//     A KMS-backed KEK plugs in as any tink.AEAD.
package keyring
