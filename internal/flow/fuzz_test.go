package flow

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser and, when they parse, to the
// linter and the loader: nothing may panic, and every diagnostic must have a
// position. The seeds are the example flows and every testdata flow.
//
//	go test ./internal/flow -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	examples, _ := filepath.Glob("../../examples/flows/*.yaml")
	for _, name := range append(seeds, examples...) {
		if src, err := os.ReadFile(name); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("id: t\nmode: self_service\nsteps: [{id: a, type: disconnect}]\n"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte("{{{{"))
	opts := testOptions()
	f.Fuzz(func(t *testing.T, src []byte) {
		fl, ds := Parse("fuzz.yaml", src, opts)
		checkPositions(t, ds)
		if fl == nil || ds.HasErrors() {
			return
		}
		checkPositions(t, Lint(fl, opts))
		if g, err := Load("fuzz.yaml", src, opts); err == nil && g == nil {
			t.Fatal("Load returned neither a flow nor an error")
		}
	})
}

func checkPositions(t *testing.T, ds Diagnostics) {
	t.Helper()
	for _, d := range ds {
		if d.Line < 1 || d.Column < 1 || d.File != "fuzz.yaml" || d.Rule == "" || d.Message == "" {
			t.Fatalf("diagnostic without a full position: %+v", d)
		}
	}
}

// FuzzTemplate checks that ParseTemplate never panics and that references
// it returns point inside the source at their variable's name.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"", "Hi {{ name }}", "{{ a | b | c }}", "{{", "}} {{ x }} {{", "{{ {{ }} }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := ParseTemplate(src)
		if err != nil {
			return
		}
		for _, r := range tpl.Refs() {
			if r.Offset < 0 || r.Offset+len(r.Var) > len(src) || src[r.Offset:r.Offset+len(r.Var)] != r.Var {
				t.Fatalf("ref %+v does not point at its name in %q", r, src)
			}
		}
		if _, err := tpl.Render(Vars{}); err == nil && len(tpl.Refs()) > 0 {
			t.Fatal("rendering with no variables succeeded")
		}
	})
}
