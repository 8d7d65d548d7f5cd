// Package waflowstest provides an in-memory waflows.Store for tests and a
// conformance suite every waflows.Store implementation should pass.
package waflowstest
