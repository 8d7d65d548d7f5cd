package flow

import (
	"errors"
	"strconv"
)

// Sentinel errors. Functions of this package wrap them; test with [errors.Is].
var (
	// ErrInvalidFlow is matched by the error of [Load] and [LoadPaths] when a
	// flow has at least one error diagnostic.
	ErrInvalidFlow = errors.New("flow: invalid flow")
	// ErrInvalidInput is wrapped by [Field.Validate] when customer input does
	// not fit the field. The wrapping error names the reason, never the input.
	ErrInvalidInput = errors.New("flow: invalid input")
	// ErrSecretUnmasked is wrapped by [Template.Render] when a secret would
	// be written without a masking filter.
	ErrSecretUnmasked = errors.New("flow: secret without a masking filter")
	// ErrFilterNotAllowed is wrapped when a filter would disclose part of a
	// kind of secret (for example last4 on a password), or does not exist.
	ErrFilterNotAllowed = errors.New("flow: filter not allowed for this value")
	// ErrFilterUnavailable is wrapped by [Sealed.Masked] for the token filter
	// when no token has been attached with [Sealed.WithToken].
	ErrFilterUnavailable = errors.New("flow: filter result not available")
	// ErrUndefinedVariable is wrapped when a template or expression reads a
	// variable its scope does not hold.
	ErrUndefinedVariable = errors.New("flow: undefined variable")
	// ErrUnsupportedValue is wrapped when a scope holds a value of a Go type
	// that templates cannot render.
	ErrUnsupportedValue = errors.New("flow: unsupported value type")
	// ErrNotLoaded is returned by [Expr.Eval] on an expression of a flow that
	// did not come from [Load] or [LoadPaths].
	ErrNotLoaded = errors.New("flow: expression not compiled; load the flow with Load")
)

// InvalidFlowError is the error of [Load] and [LoadPaths] for a flow with
// errors. Its message is the first error diagnostic and a count; the full
// list is in Diagnostics.
type InvalidFlowError struct {
	Diagnostics Diagnostics
}

// Error implements error.
func (e *InvalidFlowError) Error() string {
	n := e.Diagnostics.Count(SeverityError)
	for _, d := range e.Diagnostics {
		if d.Severity == SeverityError {
			s := d.String()
			if n > 1 {
				s += " (and " + strconv.Itoa(n-1) + " more errors)"
			}
			return s
		}
	}
	return ErrInvalidFlow.Error()
}

// Unwrap returns [ErrInvalidFlow].
func (e *InvalidFlowError) Unwrap() error { return ErrInvalidFlow }
