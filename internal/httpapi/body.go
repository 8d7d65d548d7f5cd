package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// decodeJSON reads one JSON object of at most MaxBodyBytes with no unknown
// fields into dst. Its errors never quote the body.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errMediaType
	}
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err != nil {
			if de := decodeError(err); de == errTooLarge {
				return de
			}
		}
		return errBadJSON
	}
	return nil
}

func decodeError(err error) error {
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return errTooLarge
	case errors.Is(err, io.EOF):
		return errEmptyBody
	case errors.As(err, &ute) && ute.Field != "":
		// Name only the documented top-level field: a deeper path could
		// contain a client-chosen map key.
		top, _, _ := strings.Cut(ute.Field, ".")
		return Invalid(FieldError{top, "has the wrong JSON type"})
	default:
		return errBadJSON
	}
}

// idempotencyKey reads the optional Idempotency-Key header: 1-255 visible
// ASCII characters.
func idempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		return "", nil
	}
	if len(k) > maxIdempotencyLen {
		return "", Invalid(FieldError{"Idempotency-Key", "at most 255 characters"})
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return "", Invalid(FieldError{"Idempotency-Key", "visible ASCII characters only"})
		}
	}
	return k, nil
}

// joinInvalid merges two validation errors (either may be nil) into one
// *InvalidError.
func joinInvalid(a, b error) error {
	var fields []FieldError
	for _, e := range []error{a, b} {
		var inv *InvalidError
		if errors.As(e, &inv) {
			fields = append(fields, inv.Fields...)
		} else if e != nil {
			return e
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return Invalid(fields...)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err // an output that cannot be encoded: 500, logged
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // the status is sent; a write error cannot be reported
	return nil
}

func internalError() *Error {
	e, _ := toAPIError(errors.New("panic"))
	return e
}

// scrubbed removes every request value of at least 4 bytes from s.
func (st *reqState) scrubbed(s string) string {
	for _, v := range st.scrub {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}

// statusRecorder remembers the status for the access log.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

// WriteHeader records the first status.
func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.code, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) status() int {
	if !s.wrote {
		return http.StatusOK
	}
	return s.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
