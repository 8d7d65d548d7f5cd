package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/secureflow/secureflow/internal/flow"
)

func newFlowsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "flows", Short: "Work with secure-flow definitions"}
	var asJSON bool
	var actions string
	lint := &cobra.Command{
		Use:   "lint PATH...",
		Short: "Check flow files (or directories of them) before they run",
		Long: `Check flow files against every rule of the flow language (docs/flows.md): ends per
mode, agent reservation, dead ends, input-free cycles, undefined variables,
CEL types, and secrets reaching a message, summary, attribute or log unmasked.
Each finding is file:line:column, a rule id and a reason. Exit status: 0 clean
(warnings allowed), 1 errors found, 2 a path could not be read.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				fmt.Fprintln(e.stderr, "secureflow flows lint: give at least one flow file or directory")
				return exitCode(2)
			}
			var opts flow.Options
			if actions != "" {
				src, err := os.ReadFile(actions)
				if err != nil {
					fmt.Fprintln(e.stderr, "secureflow flows lint:", err)
					return exitCode(2)
				}
				cat, ds := flow.ParseCatalog(actions, src)
				if ds.HasErrors() {
					_ = ds.WriteText(e.stderr)
					return exitCode(2)
				}
				opts.Actions = cat
			}
			var all flow.Diagnostics
			for _, p := range args {
				fsys, rel, err := fsFor(p)
				if err != nil {
					return err
				}
				for _, d := range flow.LintPaths(fsys, []string{rel}, opts) {
					// Name files as the user wrote the path.
					if rest, ok := strings.CutPrefix(d.File, rel); ok {
						d.File = filepath.ToSlash(p) + rest
					}
					all = append(all, d)
				}
			}
			all.Sort()
			var err error
			if asJSON {
				err = all.WriteJSON(e.stdout)
			} else {
				err = all.WriteText(e.stdout)
			}
			if err != nil {
				return err
			}
			if code := all.ExitCode(); code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
	lint.Flags().BoolVar(&asJSON, "json", false, "print findings as a JSON array (for CI)")
	lint.Flags().StringVar(&actions, "actions", "", "catalog of data actions the flows may call (YAML, see examples/actions.yaml)")
	cmd.AddCommand(lint)
	return cmd
}

// fsFor returns a file system rooted at the directory holding p, and p's
// name within it, so that any path (absolute, or with "..") can be linted.
func fsFor(p string) (fs.FS, string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, "", err
	}
	return os.DirFS(filepath.Dir(abs)), filepath.Base(abs), nil
}
