package flow

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
)

// LintFile parses src and, if the file is structurally sound, lints it: the
// diagnostics a `flows lint` command prints for one file, sorted.
func LintFile(filename string, src []byte, opts Options) Diagnostics {
	_, _, ds := lintSource(filename, src, opts)
	return ds
}

// lintSource parses and lints. It returns the parsed flow (nil if the file
// is not a YAML mapping) and, if the flow got as far as linting, its checker.
func lintSource(filename string, src []byte, opts Options) (*Flow, *checker, Diagnostics) {
	f, ds := Parse(filename, src, opts)
	if f == nil || ds.HasErrors() {
		return f, nil, ds
	}
	c := newChecker(f, opts)
	c.check()
	ds = append(ds, c.ds...)
	ds.Sort()
	return f, c, ds
}

// Load parses and lints src and returns the flow ready to run: its
// expressions are compiled. A flow with any error does not load: the error
// is an [*InvalidFlowError] holding every diagnostic, matching
// [ErrInvalidFlow]. Warnings do not stop a flow from loading; see
// [Flow.Warnings].
func Load(filename string, src []byte, opts Options) (*Flow, error) {
	_, c, ds := lintSource(filename, src, opts)
	if err := ds.Err(); err != nil {
		return nil, err
	}
	if err := c.program(); err != nil {
		return nil, err
	}
	c.f.warnings = ds
	return c.f, nil
}

// program compiles every checked expression into a runnable program.
func (c *checker) program() error {
	for e, a := range c.asts {
		prog, err := c.env.Program(a,
			cel.CostLimit(maxExprCost),
			cel.InterruptCheckFrequency(interruptEvery),
		)
		if err != nil {
			return fmt.Errorf("flow: %s:%d:%d: compile expression: %w", c.f.File, e.Pos.Line, e.Pos.Column, err)
		}
		e.prog = prog
		seen := map[string]bool{}
		e.vars = e.vars[:0]
		for _, r := range freeVars(a, e.Source) {
			if !seen[r.name] {
				seen[r.name] = true
				e.vars = append(e.vars, r.name)
			}
		}
	}
	return nil
}

// Warnings returns the warnings found when the flow was loaded.
func (f *Flow) Warnings() Diagnostics { return slices.Clone(f.warnings) }

// Source returns a copy of the file the flow was parsed from.
func (f *Flow) Source() []byte { return slices.Clone(f.src) }

// LintPaths lints the flow files named by paths in fsys. A path naming a
// directory stands for every .yaml and .yml file below it (directories whose
// names start with "." are skipped); a path naming a file is linted whatever
// its extension. Paths use fs.FS syntax: slash-separated, relative, no "..";
// "./x" is accepted as "x". A path that cannot be read gives a diagnostic of
// rule [RuleIO]; two files declaring the same flow id give [RuleDuplicateID].
// The result is sorted; [Diagnostics.ExitCode] maps it to a command's exit
// status.
func LintPaths(fsys fs.FS, paths []string, opts Options) Diagnostics {
	_, ds := lintPaths(fsys, paths, opts)
	return ds
}

// LoadPaths loads every flow file named by paths in fsys, as [LintPaths]
// finds them, reading each file once. It returns the flows in file order
// only if no file has an error, and the diagnostics in any case.
func LoadPaths(fsys fs.FS, paths []string, opts Options) ([]*Flow, Diagnostics) {
	checked, ds := lintPaths(fsys, paths, opts)
	if ds.HasErrors() {
		return nil, ds
	}
	flows := make([]*Flow, 0, len(checked))
	for _, c := range checked {
		if err := c.program(); err != nil {
			ds = append(ds, Diagnostic{File: c.f.File, Line: 1, Column: 1, Severity: SeverityError, Rule: RuleCELType, Message: err.Error()})
			return nil, ds
		}
		for _, d := range ds {
			if d.File == c.f.File {
				c.f.warnings = append(c.f.warnings, d)
			}
		}
		flows = append(flows, c.f)
	}
	return flows, ds
}

// lintPaths lints the files paths stand for and returns the checkers of the
// flows that got as far as linting, in file order.
func lintPaths(fsys fs.FS, paths []string, opts Options) ([]*checker, Diagnostics) {
	var ds Diagnostics
	var checked []*checker
	seen := map[string]string{} // flow id → file
	for _, name := range expand(fsys, paths, &ds) {
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			ds = append(ds, ioDiagnostic(name, err))
			continue
		}
		f, c, fds := lintSource(name, src, opts)
		ds = append(ds, fds...)
		if c != nil {
			checked = append(checked, c)
		}
		if f == nil || f.ID == "" {
			continue
		}
		if other, dup := seen[f.ID]; dup {
			p := f.pos("id")
			ds = append(ds, Diagnostic{File: name, Line: p.Line, Column: p.Column, Severity: SeverityError,
				Rule: RuleDuplicateID, Message: fmt.Sprintf("flow id %q is already used by %s", f.ID, other)})
		} else {
			seen[f.ID] = name
		}
	}
	ds.Sort()
	return checked, ds
}

// expand resolves paths to a sorted, duplicate-free list of files.
func expand(fsys fs.FS, paths []string, ds *Diagnostics) []string {
	var files []string
	for _, p := range paths {
		name := path.Clean(strings.TrimPrefix(p, "./"))
		if !fs.ValidPath(name) {
			*ds = append(*ds, Diagnostic{File: p, Severity: SeverityError, Rule: RuleIO,
				Message: "not a valid path here: use a relative, slash-separated path without \"..\""})
			continue
		}
		info, err := fs.Stat(fsys, name)
		if err != nil {
			*ds = append(*ds, ioDiagnostic(p, err))
			continue
		}
		if !info.IsDir() {
			files = append(files, name)
			continue
		}
		err = fs.WalkDir(fsys, name, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				*ds = append(*ds, ioDiagnostic(q, err))
				return nil
			}
			if d.IsDir() {
				if q != name && strings.HasPrefix(d.Name(), ".") {
					return fs.SkipDir
				}
				return nil
			}
			if ext := path.Ext(q); ext == ".yaml" || ext == ".yml" {
				files = append(files, q)
			}
			return nil
		})
		if err != nil {
			*ds = append(*ds, ioDiagnostic(p, err))
		}
	}
	slices.Sort(files)
	return slices.Compact(files)
}

// ioDiagnostic describes a read failure without the operating system's
// wording of the path, which the diagnostic's File already holds.
func ioDiagnostic(name string, err error) Diagnostic {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = pe.Op + ": " + pe.Err.Error()
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		msg = "no such file or directory"
	case errors.Is(err, fs.ErrPermission):
		msg = "permission denied"
	}
	return Diagnostic{File: name, Severity: SeverityError, Rule: RuleIO, Message: msg}
}
