// Package kms provides key-encryption keys whose key material never leaves a
// key management service: HashiCorp Vault's transit secrets engine (through
// Tink's tink-go-hcvault) or AWS KMS (through Tink's tink-go-awskms/v3 and
// aws-sdk-go-v2). The key is named by a Tink KMS key URI:
//
//	hcvault://HOST[:PORT]/MOUNT/keys/NAME
//	aws-kms://arn:PARTITION:kms:REGION:ACCOUNT:key/KEY_ID   (or :alias/NAME)
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
//
// # AWS KMS
//
//   - The KEK's ID is the aws-kms:// URI; the ARN must be a full key or
//     alias ARN (the region is taken from it).
//   - Credentials come from the AWS SDK's standard chain, which, unlike the
//     Vault token, is read from the process: AWS_ACCESS_KEY_ID,
//     AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; else AWS_PROFILE (default
//     "default") in AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE (default
//     ~/.aws/credentials and ~/.aws/config, including SSO and role
//     profiles); else web identity (AWS_WEB_IDENTITY_TOKEN_FILE with
//     AWS_ROLE_ARN, as on EKS); else the ECS container role; else the EC2
//     instance role (IMDS, unless AWS_EC2_METADATA_DISABLED=true).
//     [WithToken] must not be given; [WithEnviron] is ignored.
//   - Associated data goes to KMS as the EncryptionContext
//     {"associatedData": hex(ad)} (Tink's default), so KMS authenticates it
//     and logs it in CloudTrail; it must not be secret (the vault's is a
//     fixed label).
//   - TLS 1.2+ with the system's roots (or [WithRootCAs] / [WithCAFile]),
//     redirects are not followed, [WithTimeout] bounds each call (retries
//     included) and [WithMaxRetries] sets the SDK's retries (5xx,
//     throttling, connection errors).
//   - [WithAWSEndpointForTesting] and [WithAWSRegionForTesting] are for
//     tests against kmstest.AWSKMS.
//   - Errors wrap [ErrKMS], and [ErrDenied] for AccessDeniedException and
//     signature or credential refusals, or [ErrNoCredentials] when the chain
//     has none. They carry AWS's error code and message, never a plaintext,
//     ciphertext or credential: a message quoting one is withheld.
package kms
