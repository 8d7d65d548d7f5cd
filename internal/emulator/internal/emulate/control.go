package emulate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// This file holds the JSON plumbing of the emulators' control APIs.

// maxControlBody bounds a control API request body.
const maxControlBody = 4 << 20

// WriteJSON answers with status and v encoded as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// DecodeJSON reads exactly one JSON value into v, rejecting unknown fields,
// and answers 400 or 413 itself when it cannot; false means it has answered.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil {
		WriteJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body unreadable or too large"})
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		WriteJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("invalid JSON: %v", err)})
		return false
	}
	if dec.More() {
		WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON: more than one value"})
		return false
	}
	return true
}

// PageParams reads the optional after (a Seq) and limit (the last N) query
// parameters, answering 400 itself when one is malformed; false means it
// has answered.
func PageParams(w http.ResponseWriter, r *http.Request) (after uint64, limit int, ok bool) {
	q := r.URL.Query()
	var err error
	if s := q.Get("after"); s != "" {
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "after must be a non-negative integer"})
			return 0, 0, false
		}
	}
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 0 {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be a non-negative integer"})
			return 0, 0, false
		}
	}
	return after, limit, true
}

// Page returns the items, ordered by seq, whose seq is above after, keeping
// only the last limit of them when limit is positive. The result is never
// nil, so that it encodes as a JSON array.
func Page[T any](items []T, seq func(T) uint64, after uint64, limit int) []T {
	i := 0
	for i < len(items) && seq(items[i]) <= after {
		i++
	}
	return NonNil(Last(items[i:], limit))
}

// Last returns the last limit items, or all of them when limit is not
// positive or not smaller than their number.
func Last[T any](items []T, limit int) []T {
	if limit > 0 && len(items) > limit {
		return items[len(items)-limit:]
	}
	return items
}

// NonNil returns s, or an empty slice when s is nil, so that it encodes as
// a JSON array rather than null.
func NonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Duration is a duration written as a Go duration string ("250ms") and read
// from either such a string or a number of milliseconds.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	ms, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration must be a string like \"250ms\" or a number of milliseconds: %w", err)
	}
	*d = Duration(time.Duration(ms * float64(time.Millisecond)))
	return nil
}
