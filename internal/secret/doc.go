// Package secret provides [Value], a byte string that refuses to be printed,
// logged or serialized, and [RedactingHandler], a [log/slog] handler that
// redacts attributes by key as a second line of defence.
//
// # Why a type
//
// Invariant 1 of secureflow is that a secret never reaches a log line, an
// error message, a metric or the contact centre. Discipline alone does not
// hold that line; a type does. A Value formats as "[REDACTED]" through every
// path the standard library offers (fmt verbs including %#v, slog's
// LogValuer, encoding/json, encoding.TextMarshaler), so an accidental
// fmt.Sprintf("%v", cfg) or slog.Any("config", cfg) cannot leak it.
//
// # Reveal
//
// The raw bytes are reachable only through [Value.Reveal]. Every package that
// calls it is listed in an allow-list kept by a test in this package, which
// walks the module's type-checked syntax trees and fails when a new caller
// appears; adding one is a reviewed change.
package secret
