// Package linktest provides test helpers for secure links: Store, an
// in-memory securelink.Store, and Run, a conformance suite every
// securelink.Store implementation should pass.
package linktest
