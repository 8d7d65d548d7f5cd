package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/secureflow/secureflow/internal/kms"
	"github.com/secureflow/secureflow/internal/store/sqlite"
	"github.com/secureflow/secureflow/internal/vault"
)

// vaultFlags are the flags every vault command shares. Defaults come from
// the same SECUREFLOW_* variables serve reads, so an operator on the host
// does not repeat them.
type vaultFlags struct {
	db        string
	kek       string
	principal string
}

// register adds --db and, for commands that use keys, --kek and --principal.
func (f *vaultFlags) register(cmd *cobra.Command, e *env, withKEK bool) {
	def := lookupEnv(e.environ, "SECUREFLOW_STORE_SQLITE_PATH")
	if def == "" {
		def = "secureflow.db"
	}
	cmd.Flags().StringVar(&f.db, "db", def, "SQLite database (default $SECUREFLOW_STORE_SQLITE_PATH or secureflow.db)")
	if withKEK {
		cmd.Flags().StringVar(&f.kek, "kek", lookupEnv(e.environ, "SECUREFLOW_KEYS_KEK"),
			"key-encryption key: file:PATH, env:NAME, hcvault://HOST[:PORT]/MOUNT/keys/NAME (Vault token in $VAULT_TOKEN) or aws-kms://arn:… (AWS credential chain) (default $SECUREFLOW_KEYS_KEK)")
	}
	if !withKEK {
		return
	}
	user := lookupEnv(e.environ, "USER")
	if user == "" {
		user = "unknown"
	}
	cmd.Flags().StringVar(&f.principal, "principal", "operator:"+user, "who is acting, for the audit log")
}

// kmsOptions are the options for a KMS KEK: a hcvault:// token comes
// from VAULT_TOKEN (vault.OpenKEK's fallback), a private CA from
// $SECUREFLOW_KEYS_KMS_CA_FILE, as for serve's keys.kms_ca_file.
func kmsOptions(e *env) []kms.Option {
	return []kms.Option{kms.WithCAFile(lookupEnv(e.environ, "SECUREFLOW_KEYS_KMS_CA_FILE"))}
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// openVault opens an existing database and its keysets with the KEK.
func (f *vaultFlags) openVault(ctx context.Context, e *env) (*vault.Vault, *sqlite.DB, error) {
	if _, err := os.Stat(f.db); err != nil {
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	kek, err := vault.OpenKEK(f.kek, e.environ, kmsOptions(e)...)
	if err != nil {
		return nil, nil, err
	}
	db, err := sqlite.Open(ctx, f.db)
	if err != nil {
		return nil, nil, err
	}
	v, err := vault.Open(ctx, vault.Config{Store: db.Vault(), KEK: kek})
	if err != nil {
		db.Close()
		if errors.Is(err, vault.ErrNoKeys) {
			return nil, nil, fmt.Errorf("%w: run \"secureflow keys init --kek %s --db %s\"", err, f.kek, f.db)
		}
		return nil, nil, err
	}
	return v, db, nil
}

func newKeysCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the vault's keys: init, rotate, rewrap, retire, status",
		Long: `The vault encrypts every value under its own data key, wrapped by a Tink
AES-256-GCM keyset; fingerprints and deterministic tokens use a Tink HMAC-SHA256
PRF keyset. Both keysets live in the database, encrypted under the key-encryption
key (KEK), which stays outside it. See docs/vault.md.`,
	}
	cmd.AddCommand(newKeysInitCmd(e), newKeysRotateCmd(e), newKeysRewrapCmd(e), newKeysRetireCmd(e),
		newKeysStatusCmd(e), newKeysChangeKEKCmd(e))
	return cmd
}

func newKeysInitCmd(e *env) *cobra.Command {
	var f vaultFlags
	var kekFile string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a KEK file (mode 0600) and/or the vault keysets in the database",
		Long: `With --kek-file, write a new key-encryption key (a Tink AES-256-GCM keyset) to
that path with mode 0600; an existing file is never replaced. Then create the
vault keysets in --db under that KEK (or under the existing --kek). Keep the
KEK out of the database's backups: whoever has both can decrypt everything.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			kekSet := cmd.Flags().Changed("kek")
			var kek vault.KEK
			var err error
			switch {
			case kekFile != "" && kekSet:
				return errors.New("give --kek-file (create a new KEK) or --kek (use an existing one), not both")
			case kekFile != "":
				if kek, err = vault.GenerateKEKFile(kekFile); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "wrote KEK %s to %s (mode 0600); configure keys.kek: file:%s\n", kek.ID(), kekFile, absPath(kekFile))
			default:
				if kek, err = vault.OpenKEK(f.kek, e.environ, kmsOptions(e)...); err != nil {
					return err
				}
			}
			if !cmd.Flags().Changed("db") && kekFile != "" && lookupEnv(e.environ, "SECUREFLOW_STORE_SQLITE_PATH") == "" {
				return nil // only the KEK was asked for
			}
			if dir := filepath.Dir(f.db); dir != "" {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return fmt.Errorf("database directory: %w", err)
				}
			}
			db, err := sqlite.Open(ctx, f.db)
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := vault.InitKeys(ctx, db.Vault(), kek, f.principal, time.Now())
			if errors.Is(err, vault.ErrConflict) {
				return fmt.Errorf("%s already has vault keysets; use \"keys rotate\" to add keys or \"keys change-kek\" to change the KEK", f.db)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "created vault keysets in %s under KEK %s\n", f.db, kek.ID())
			return printStatus(e.stdout, st)
		},
	}
	f.register(cmd, e, true)
	cmd.Flags().StringVar(&kekFile, "kek-file", "", "write a new KEK to this path (mode 0600, never overwritten)")
	return cmd
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func newKeysRotateCmd(e *env) *cobra.Command {
	var f vaultFlags
	var rewrap bool
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new primary key to both keysets (old keys keep decrypting)",
		Long: `Add a fresh primary key to the values keyset and to the fingerprint keyset.
New records use the new keys at once; existing records keep decrypting under
theirs until a re-wrap (this command with --rewrap, "keys rewrap", or the
gateway's background maintenance) moves them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			v, db, err := f.openVault(ctx, e)
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := v.Rotate(ctx, f.principal)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "rotated: new primaries values=%d fingerprints=%d\n", primaryOf(st, "values"), primaryOf(st, "fingerprints"))
			if rewrap {
				res, err := v.Rewrap(ctx, f.principal, 0)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "rewrapped %d records (%d failed)\n", res.Moved, res.Failed)
				if st, err = v.Status(ctx); err != nil {
					return err
				}
			}
			return printStatus(e.stdout, st)
		},
	}
	f.register(cmd, e, true)
	cmd.Flags().BoolVar(&rewrap, "rewrap", false, "re-wrap every record under the new keys now")
	return cmd
}

func newKeysRewrapCmd(e *env) *cobra.Command {
	var f vaultFlags
	var batch int
	cmd := &cobra.Command{
		Use:   "rewrap",
		Short: "Move every record to the primary keys (fresh data key, new fingerprint)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			v, db, err := f.openVault(ctx, e)
			if err != nil {
				return err
			}
			defer db.Close()
			res, err := v.Rewrap(ctx, f.principal, batch)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "rewrapped %d records (%d failed)\n", res.Moved, res.Failed)
			st, err := v.Status(ctx)
			if err != nil {
				return err
			}
			if err := printStatus(e.stdout, st); err != nil {
				return err
			}
			if res.Failed > 0 {
				fmt.Fprintf(e.stderr, "%d records do not authenticate and were left as they are; their tokens are in the log\n", res.Failed)
				return exitCode(1)
			}
			return nil
		},
	}
	f.register(cmd, e, true)
	cmd.Flags().IntVar(&batch, "batch", 500, "records per transaction")
	return cmd
}

func newKeysRetireCmd(e *env) *cobra.Command {
	var f vaultFlags
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "retire",
		Short: "Delete non-primary keys that no record uses any more",
		Long: `Delete from both keysets every non-primary key that protects no record. Once a
key is gone, every leftover copy of data it protected (backups, freed disk
blocks) is undecryptable. Refuses to run until the keysets have been unchanged
for --grace, so every gateway process has picked up the current primaries.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			v, db, err := f.openVault(ctx, e)
			if err != nil {
				return err
			}
			defer db.Close()
			res, err := v.Retire(ctx, f.principal, grace)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "retired values keys %v, fingerprint keys %v\n", res.Values, res.Fingerprints)
			st, err := v.Status(ctx)
			if err != nil {
				return err
			}
			return printStatus(e.stdout, st)
		},
	}
	f.register(cmd, e, true)
	cmd.Flags().DurationVar(&grace, "grace", 10*time.Minute, "how long the keysets must have been unchanged")
	return cmd
}

func newKeysStatusCmd(e *env) *cobra.Command {
	var f vaultFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the keys and how many records each protects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			v, db, err := f.openVault(ctx, e)
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := v.Status(ctx)
			if err != nil {
				return err
			}
			return printStatus(e.stdout, st)
		},
	}
	f.register(cmd, e, true)
	return cmd
}

func newKeysChangeKEKCmd(e *env) *cobra.Command {
	var f vaultFlags
	var next string
	cmd := &cobra.Command{
		Use:   "change-kek",
		Short: "Re-encrypt the keysets under another KEK",
		Long: `Re-encrypt both keysets under --new-kek. Records are untouched (they are under
the keysets, not the KEK). Then configure keys.kek to the new KEK everywhere
and destroy the old one once no process uses it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			nk, err := vault.OpenKEK(next, e.environ, kmsOptions(e)...)
			if err != nil {
				return fmt.Errorf("--new-kek: %w", err)
			}
			v, db, err := f.openVault(ctx, e)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := v.ChangeKEK(ctx, nk, f.principal); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "keysets re-encrypted under KEK %s\n", nk.ID())
			return nil
		},
	}
	f.register(cmd, e, true)
	cmd.Flags().StringVar(&next, "new-kek", "", "the new key-encryption key: file:PATH, env:NAME, hcvault://HOST[:PORT]/MOUNT/keys/NAME (Vault token in $VAULT_TOKEN) or aws-kms://arn:…")
	return cmd
}

func primaryOf(st vault.Status, keyset string) uint32 {
	for _, k := range st.Keys {
		if k.Keyset == keyset && k.Primary {
			return k.ID
		}
	}
	return 0
}

// printStatus writes the key table: one line per key, with the number of
// records it protects, and what remains to re-wrap.
func printStatus(w io.Writer, st vault.Status) error {
	fmt.Fprintf(w, "generation %d, KEK %s, changed %s\n", st.Generation, st.KEKID, st.UpdatedAt.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEYSET\tKEY ID\tROLE\tSTATUS\tRECORDS")
	for _, k := range st.Keys {
		role := "old"
		if k.Primary {
			role = "primary"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\n", k.Keyset, k.ID, role, k.Status, k.Records)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := st.Stale(); n > 0 {
		_, err := fmt.Fprintf(w, "%d record keys still under old keys: run \"secureflow keys rewrap\"\n", n)
		return err
	}
	_, err := fmt.Fprintln(w, "every record is under the primary keys")
	return err
}
