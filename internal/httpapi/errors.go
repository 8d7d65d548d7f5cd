package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors that [Sessions] and [Actions] implementations return or
// wrap (with %w). The handler maps each to one HTTP status in [errorTable].
var (
	// ErrNotFound: the session (or action) does not exist. 404.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a secure session is already active on the conversation. 409.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the request is well-formed but not acceptable (unknown flow,
	// missing flow input, ...). 422. Prefer [*InvalidError] to name fields.
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable: a dependency is temporarily unavailable; retry later. 503.
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrUpstream: a third-party call (a data action's API) failed. 502.
	ErrUpstream = errors.New("upstream failure")
)

// FieldError names one invalid field of a request. Message says what is
// wrong with it and must never contain the submitted value.
type FieldError struct {
	// Field is the JSON path of the field, e.g. "inputs.amount", or a header
	// name such as "Idempotency-Key".
	Field string `json:"field"`
	// Message is a human-readable reason, without the value.
	Message string `json:"message"`
}

// InvalidError is a validation failure with per-field reasons. It matches
// [ErrInvalid] with errors.Is.
type InvalidError struct {
	// Fields lists the invalid fields.
	Fields []FieldError
}

// Error implements error. It names the fields, never their values.
func (e *InvalidError) Error() string {
	if len(e.Fields) == 1 {
		return fmt.Sprintf("invalid request: %s: %s", e.Fields[0].Field, e.Fields[0].Message)
	}
	return fmt.Sprintf("invalid request: %d invalid fields", len(e.Fields))
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Invalid returns an [*InvalidError] for the given fields.
func Invalid(fields ...FieldError) error { return &InvalidError{Fields: fields} }

// Error is the API's one error type: what the client is told. The handler
// renders it as application/problem+json (RFC 9457).
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is a stable machine-readable code, e.g. "conflict".
	Code string
	// Message is the human-readable detail shown to the client.
	Message string
	// Fields lists per-field problems (422 only).
	Fields []FieldError
}

// Error implements error.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Problem codes that are not produced from a sentinel.
const (
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeRouteNotFound    = "route_not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeMalformed        = "malformed_body"
	codeTooLarge         = "body_too_large"
	codeMediaType        = "unsupported_media_type"
	codeInternal         = "internal"
)

// errorTable maps each sentinel to what the client is told. It is the only
// place where a sentinel becomes a status.
var errorTable = []struct {
	err     error
	status  int
	code    string
	message string
}{
	{ErrNotFound, http.StatusNotFound, "not_found", "The resource does not exist."},
	{ErrConflict, http.StatusConflict, "conflict", "A secure session is already active on this conversation."},
	{ErrInvalid, http.StatusUnprocessableEntity, "invalid", "The request is not valid."},
	{ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "The service is temporarily unavailable; retry later."},
	{ErrUpstream, http.StatusBadGateway, "upstream_failed", "A service the gateway depends on failed."},
}

// toAPIError maps any error to the *Error shown to the client. internal is
// true when the error matched nothing: the caller must log it, and the client
// sees only a generic message.
func toAPIError(err error) (apiErr *Error, internal bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, false
	}
	for _, row := range errorTable {
		if errors.Is(err, row.err) {
			out := &Error{Status: row.status, Code: row.code, Message: row.message}
			var inv *InvalidError
			if errors.As(err, &inv) {
				out.Fields = inv.Fields
			}
			return out, false
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: codeInternal,
		Message: "An internal error occurred; quote the request id when reporting it."}, true
}

// problem is the RFC 9457 body.
type problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Code      string       `json:"code"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
}

// problemTypeBase prefixes the problem code to form the RFC 9457 "type" URI.
const problemTypeBase = "urn:secureflow:problem:"

// writeProblem renders e. It is the only function that writes an error body.
func writeProblem(w http.ResponseWriter, requestID string, e *Error) {
	p := problem{
		Type:      problemTypeBase + e.Code,
		Title:     http.StatusText(e.Status),
		Status:    e.Status,
		Detail:    e.Message,
		Code:      e.Code,
		RequestID: requestID,
		Errors:    e.Fields,
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(p) // the status is sent; a write error cannot be reported
}
