package secret

import (
	"fmt"
	"log/slog"
)

// redacted is what every formatting path prints instead of the value.
const redacted = "[REDACTED]"

// Value holds secret bytes. The zero Value is empty. A Value is immutable
// once made and safe for concurrent use.
type Value struct {
	b []byte
}

// New returns a Value holding a copy of b.
func New(b []byte) Value {
	if len(b) == 0 {
		return Value{}
	}
	return Value{b: append([]byte(nil), b...)}
}

// FromString returns a Value holding s.
func FromString(s string) Value { return New([]byte(s)) }

// Reveal returns a copy of the secret bytes. Callers are audited: see the
// package documentation.
func (v Value) Reveal() []byte {
	if len(v.b) == 0 {
		return nil
	}
	return append([]byte(nil), v.b...)
}

// IsZero reports whether the Value is empty.
func (v Value) IsZero() bool { return len(v.b) == 0 }

// Len returns the length of the secret in bytes; lengths are not secret for
// the kinds of values configuration holds.
func (v Value) Len() int { return len(v.b) }

// String implements fmt.Stringer.
func (v Value) String() string { return redacted }

// GoString implements fmt.GoStringer, covering %#v.
func (v Value) GoString() string { return "secret.Value(" + redacted + ")" }

// Format implements fmt.Formatter so that no verb, flag or width prints the
// bytes (for example %x or %q, which would otherwise bypass String).
func (v Value) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(v.GoString()))
		return
	}
	_, _ = f.Write([]byte(redacted))
}

// LogValue implements slog.LogValuer.
func (v Value) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (YAML and other encoders).
func (v Value) MarshalText() ([]byte, error) { return []byte(redacted), nil }
