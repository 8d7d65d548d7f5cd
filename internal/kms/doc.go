// Package kms provides key-encryption keys whose key material never leaves a
// key management service. Today that is HashiCorp Vault's transit secrets
// engine, reached through Tink's integration (tink-go-hcvault); the key is
// named by a Tink KMS key URI:
//
//	hcvault://HOST[:PORT]/MOUNT/keys/NAME
//
// for example hcvault://vault.example.com:8200/transit/keys/secureflow. MOUNT
// is the transit engine's mount path and may contain slashes
// (hcvault://vault:8200/team/transit/keys/k uses the engine mounted at
// team/transit); Tink turns the key path into MOUNT/encrypt/NAME and
// MOUNT/decrypt/NAME.
//
// # Contract
//
//   - [Open] returns an [AEAD] that is both a tink.AEAD (for Tink's keyset
//     readers and writers) and a tink.AEADWithContext whose ID is the key
//     URI, so it satisfies vault.KEK as it is.
//   - TLS is the default; plain HTTP needs [WithPlainHTTPForTesting], meant
//     only for tests and local development.
//   - The Vault token comes from [WithToken] or, when that is empty, from
//     VAULT_TOKEN in the environment given to [WithEnviron]. The process
//     environment is never read behind the caller's back: VAULT_TOKEN,
//     VAULT_NAMESPACE and the other VAULT_* variables the Vault client
//     library would pick up are overridden or cleared.
//   - Associated data is authenticated by Vault (the transit
//     "associated_data" parameter of AEAD key types), not used as a key
//     derivation context, so the transit key must have derived=false.
//   - Errors wrap [ErrKMS] (and [ErrDenied] when Vault refuses the token);
//     they never contain the token, a plaintext or a ciphertext.
package kms
