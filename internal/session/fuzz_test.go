package session

import (
	"strings"
	"testing"
)

// FuzzParseCommand feeds arbitrary agent messages to the command parser:
// it never panics, recognizes only messages that start with the prefix as
// a word, and a parsed start names a flow and well-formed inputs.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/secure take-payment amount=49.90", "/secure", `/secure x a="b c"`, "hello", "/secure\tstatus", `/secure "`, `/secure ""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := parseCommand(s)
		if !ok {
			return
		}
		if !strings.HasPrefix(strings.TrimSpace(s), CommandPrefix) {
			t.Fatalf("%q parsed as a command", s)
		}
		if c.Err != "" {
			return
		}
		switch c.Verb {
		case "status", "cancel":
		case "start":
			if c.Flow == "" {
				t.Fatalf("%q: a start without a flow", s)
			}
			for k := range c.Inputs {
				if k == "" {
					t.Fatalf("%q: an input without a name", s)
				}
			}
		default:
			t.Fatalf("%q: verb %q", s, c.Verb)
		}
	})
}
