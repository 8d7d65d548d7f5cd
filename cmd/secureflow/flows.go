package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/waflows"
)

func newFlowsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "flows", Short: "Work with secure-flow definitions"}
	var asJSON bool
	var actions string
	var waFlows []string
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
			loaded := map[string]*flow.Flow{}
			if len(waFlows) > 0 {
				for _, p := range args {
					if fsys, rel, err := fsFor(p); err == nil {
						fl, _ := flow.LoadPaths(fsys, []string{rel}, opts)
						for _, f := range fl {
							loaded[f.ID] = f
						}
					}
				}
			}
			for _, m := range waFlows {
				ds, err := checkWhatsAppFlow(m, loaded)
				if err != nil {
					fmt.Fprintln(e.stderr, "secureflow flows lint:", err)
					return exitCode(2)
				}
				all = append(all, ds...)
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
	lint.Flags().StringArrayVar(&waFlows, "whatsapp-flow", nil,
		"FLOW/STEP=FILE: check the WhatsApp Flow JSON FILE that a collect step with capture: whatsapp_flow sends (repeatable)")
	cmd.AddCommand(lint)
	return cmd
}

// checkWhatsAppFlow checks one "FLOW/STEP=FILE" mapping: the step must
// capture by WhatsApp Flow, and the Flow JSON must send each of its fields
// through data_exchange and carry none in a complete payload (which would
// reach the nfm_reply webhook in clear). An error means FILE is unreadable.
func checkWhatsAppFlow(mapping string, flows map[string]*flow.Flow) (flow.Diagnostics, error) {
	ref, file, ok := strings.Cut(mapping, "=")
	flowID, stepID, ok2 := strings.Cut(ref, "/")
	if !ok || !ok2 || file == "" {
		return nil, fmt.Errorf("--whatsapp-flow %q: want FLOW/STEP=FILE", mapping)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	diag := func(msg string) flow.Diagnostic {
		return flow.Diagnostic{File: filepath.ToSlash(file), Severity: flow.SeverityError, Rule: "whatsapp-flow", Message: msg}
	}
	f := flows[flowID]
	if f == nil {
		return flow.Diagnostics{diag(fmt.Sprintf("no loaded flow has the id %q (it must lint clean first)", flowID))}, nil
	}
	st := f.Step(stepID)
	c, isCollect := st.Body.(*flow.Collect)
	if st == nil || !isCollect || c.Capture != flow.CaptureWhatsAppFlow {
		return flow.Diagnostics{diag(fmt.Sprintf("step %s of flow %s is not a collect step with capture: whatsapp_flow", stepID, flowID))}, nil
	}
	var fields []string
	for _, fd := range c.Fields {
		fields = append(fields, fd.Var)
	}
	var ds flow.Diagnostics
	for _, p := range waflows.CheckFlowJSON(filepath.ToSlash(file), src, fields) {
		msg := p.Message
		if p.Path != "" {
			msg = p.Path + ": " + msg
		}
		ds = append(ds, diag(msg))
	}
	return ds, nil
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
