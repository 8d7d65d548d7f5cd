package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/secureflow/secureflow/internal/store/sqlite"
	"github.com/secureflow/secureflow/internal/vault"
)

func newAuditCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Inspect and verify the vault's hash-chained audit log",
	}
	cmd.AddCommand(newAuditVerifyCmd(e), newAuditShowCmd(e))
	return cmd
}

func newAuditVerifyCmd(e *env) *cobra.Command {
	var f vaultFlags
	var anchors []string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that no audit entry was edited, removed or reordered",
		Long: `Read the audit log from --db (read-only: nothing is migrated or written) and
check that it is one unbroken SHA-256 chain from entry 1. Prints the head as
SEQ:HASH; record it somewhere the database's administrators cannot write (a
ticket, a SIEM) and pass it back with --anchor next time: a chain alone cannot
reveal that its tail was cut off or rewritten wholesale, an anchor can.

Exit status: 0 intact, 1 broken (the first bad entry is named) or error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var as []vault.Anchor
			for _, s := range anchors {
				a, err := vault.ParseAnchor(s)
				if err != nil {
					return fmt.Errorf("--anchor %q: %w", s, err)
				}
				as = append(as, a)
			}
			log, err := sqlite.OpenAuditLog(ctx, f.db)
			if err != nil {
				return err
			}
			defer log.Close()
			rep, err := vault.VerifyAudit(ctx, log, as...)
			var ae *vault.AuditError
			if errors.As(err, &ae) {
				fmt.Fprintf(e.stdout, "audit log BROKEN at entry %d: %s\n", ae.Seq, ae.Reason)
				fmt.Fprintf(e.stdout, "entries 1-%d verify; head of the intact part %s\n", rep.HeadSeq, rep)
				return exitCode(1)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "audit log intact: %d entries", rep.Entries)
			if len(as) > 0 {
				fmt.Fprintf(e.stdout, ", %d anchors match", len(as))
			}
			fmt.Fprintf(e.stdout, "\nhead %s\n", rep)
			return nil
		},
	}
	f.register(cmd, e, false)
	cmd.Flags().StringArrayVar(&anchors, "anchor", nil, "SEQ:HASH printed by an earlier verify (repeatable)")
	return cmd
}

func newAuditShowCmd(e *env) *cobra.Command {
	var f vaultFlags
	var after int64
	var limit int
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print audit entries (they never contain values)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log, err := sqlite.OpenAuditLog(ctx, f.db)
			if err != nil {
				return err
			}
			defer log.Close()
			es, err := log.Audit(ctx, after, limit)
			if err != nil {
				return err
			}
			for _, en := range es {
				fmt.Fprintf(e.stdout, "%d\t%s\t%s\t%s\tprincipal=%q purpose=%q token=%q kind=%q key=%d detail=%q\n",
					en.Seq, en.At.Format(time.RFC3339Nano), en.Action, en.Outcome, en.Principal, en.Purpose, en.Token, en.Kind, en.KeyID, en.Detail)
			}
			return nil
		},
	}
	f.register(cmd, e, false)
	cmd.Flags().Int64Var(&after, "after", 0, "show entries after this sequence number")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many entries")
	return cmd
}
