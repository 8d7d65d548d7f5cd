package waflows_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	"github.com/secureflow/secureflow/internal/waflows"
)

var errRefused = errors.New("sink refused")

// hashOf returns the stored hash of a flow token.
func hashOf(t *testing.T, tok string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return h[:]
}

func fmtGrant(g waflows.Grant) string { return fmt.Sprintf("%+v %#v", g, g) }

func fmtSubmission(s waflows.Submission) string { return fmt.Sprintf("%+v %v %#v", s, s, s) }
