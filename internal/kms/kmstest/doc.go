// Package kmstest provides a fake HashiCorp Vault transit secrets engine for
// tests of KMS-backed key-encryption keys: no real Vault is needed.
//
// The fake implements the two endpoints Tink's hcvault integration calls,
// as Vault documents them
// (https://developer.hashicorp.com/vault/api-docs/secret/transit, "Encrypt
// data" and "Decrypt data"):
//
//	POST|PUT /v1/MOUNT/encrypt/NAME  {"plaintext": b64, "associated_data": b64, "context": b64}
//	  -> 200 {"data": {"ciphertext": "vault:vN:...", "key_version": N}}
//	POST|PUT /v1/MOUNT/decrypt/NAME  {"ciphertext": "vault:vN:...", "associated_data": b64}
//	  -> 200 {"data": {"plaintext": b64}}
//
// Errors are Vault's shape, {"errors": ["..."]}: 403 "permission denied"
// for a missing or wrong X-Vault-Token (Vault's API overview,
// "Authentication"), 400 for a bad request or a ciphertext that does not
// authenticate, 503 while the fake is [Transit.SetDown] (Vault answers 503
// when sealed). The key is a non-derived AES-256-GCM transit key: like
// Vault, the fake authenticates associated_data and ignores context. Each
// key version is a real Tink AES-256-GCM key; [Transit.Rotate] adds a
// version, and older ciphertexts keep decrypting, as in Vault.
//
// [AWSKMS] is a fake AWS KMS for aws-kms:// keys. It speaks the AWS JSON 1.1
// protocol of the AWS KMS API reference ("Encrypt", "Decrypt", "Common
// Errors"): POST / with X-Amz-Target TrentService.Encrypt or
// TrentService.Decrypt, bodies {"KeyId", "Plaintext" (base64),
// "EncryptionContext"} -> {"CiphertextBlob" (base64), "KeyId",
// "EncryptionAlgorithm"} and back, errors as {"__type": CODE, "message":
// TEXT}. It checks each request's SigV4 Authorization header (access key id,
// region and service "kms" in the credential scope, and the signature
// itself, recomputed with the fake's secret key by the AWS SDK's signer),
// encrypts with a real Tink AES-256-GCM keyset that binds the key ARN and
// the EncryptionContext as associated data (a different context gives
// InvalidCiphertextException, as in KMS), and can simulate
// AccessDeniedException ([AWSKMS.SetDenied]), an outage (500
// KMSInternalException, [AWSKMS.SetDown]), a proxy echoing the request
// ([AWSKMS.SetEchoErrors]) and automatic key rotation ([AWSKMS.Rotate]).
package kmstest
