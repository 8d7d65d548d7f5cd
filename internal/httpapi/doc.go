// Package httpapi provides the gateway's own REST API: start a secure
// session, read its result, report that the agent left a conversation, and
// invoke a data action with vault tokens that the gateway swaps for real
// values in flight.
//
// # Shape
//
// [New] returns an [http.Handler] routed with net/http patterns (Go 1.22+)
// under /v1/. It calls two small interfaces defined here, [Sessions] and
// [Actions], implemented by the session engine and the action executor; it
// owns its request and response types so that those packages do not leak
// into the wire format.
//
// # Errors
//
// Every failure is rendered in one place as application/problem+json
// (RFC 9457). Implementations return (or wrap) the sentinel errors
// [ErrNotFound], [ErrConflict], [ErrInvalid], [ErrUnavailable] and
// [ErrUpstream], an [*InvalidError] for field errors, or an [*Error] for full
// control. Anything else is a 500 with a generic message; the real error is
// logged with the request id, with every string value of the request body
// scrubbed from it, and is never shown to the client.
//
// # Credentials
//
// Callers authenticate with scoped API keys, "sfk_<id>_<secret>", sent as a
// bearer token. The gateway stores only SHA-256 hashes of the secrets
// ([KeyConfig], [ParseKeys]); [NewKey] mints a key for a CLI. The key id is
// the principal handed to the implementations and written to the access log;
// the secret never is.
package httpapi
