package action

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Functions of this package wrap them; test with
// [errors.Is]. Messages name actions, inputs, outputs and HTTP statuses,
// never input values, credentials or response bodies.
var (
	// ErrInvalidCatalog is matched by the error of [LoadCatalog] (a
	// [*CatalogError]).
	ErrInvalidCatalog = errors.New("action: invalid catalog")
	// ErrUnknownAction: the catalog has no action of this name.
	ErrUnknownAction = errors.New("action: unknown action")
	// ErrInvalidCall: an input is missing, unknown, of the wrong type, set
	// more than once, or a secret input was passed as a public value (or a
	// public input as a secret); or the call lacks its principal.
	ErrInvalidCall = errors.New("action: invalid call")
	// ErrNotAllowed: the vault refused to reveal a secret input to this
	// principal for this purpose.
	ErrNotAllowed = errors.New("action: not allowed")
	// ErrTimeout: the upstream did not answer within the action's timeout.
	ErrTimeout = errors.New("action: upstream timed out")
	// ErrCircuitOpen: the action's circuit breaker is open after repeated
	// upstream failures; the upstream was not called.
	ErrCircuitOpen = errors.New("action: circuit open")
	// ErrUpstream is matched by an [*UpstreamError]: the upstream answered
	// with a non-2xx status after the allowed retries, or could not be
	// reached.
	ErrUpstream = errors.New("action: upstream error")
	// ErrBadResponse: a 2xx response is not JSON, is too large, or holds
	// an output of another type than the catalog declares.
	ErrBadResponse = errors.New("action: bad upstream response")
)

// UpstreamError reports an upstream failure. It never holds the response
// body, which may echo secrets back.
type UpstreamError struct {
	// Action is the action's name.
	Action string
	// Status is the last HTTP status, or 0 if the upstream was not reached.
	Status int
	// Err is the transport error when Status is 0.
	Err error
}

// Error implements error.
func (e *UpstreamError) Error() string {
	if e.Status == 0 {
		s := "action " + e.Action + ": upstream unreachable"
		if e.Err != nil {
			s += ": " + e.Err.Error()
		}
		return s
	}
	return "action " + e.Action + ": upstream status " + strconv.Itoa(e.Status)
}

// Unwrap returns ErrUpstream and the transport error, if any.
func (e *UpstreamError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrUpstream, e.Err}
	}
	return []error{ErrUpstream}
}

// Problem is one finding of [LoadCatalog].
type Problem struct {
	File    string
	Line    int
	Column  int
	Message string
}

// String formats p as "file:line:col: message"; an unknown line or column
// is left out.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteString(":" + strconv.Itoa(p.Column))
		}
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// CatalogError is the error of [LoadCatalog]: every problem found, in file
// order. It matches [ErrInvalidCatalog].
type CatalogError struct {
	Problems []Problem
}

// Error implements error: one problem a line.
func (e *CatalogError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns ErrInvalidCatalog.
func (e *CatalogError) Unwrap() error { return ErrInvalidCatalog }
