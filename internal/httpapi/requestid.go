package httpapi

import (
	"crypto/rand"
	"fmt"
)

// newRequestID returns 26 random base32 characters.
func newRequestID() string { return rand.Text() }

func typeName(v any) string { return fmt.Sprintf("%T", v) }
