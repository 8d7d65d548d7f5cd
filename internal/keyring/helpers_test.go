package keyring_test

import "github.com/secureflow/secureflow/internal/secret"

func secretOf(s string) secret.Value { return secret.FromString(s) }
