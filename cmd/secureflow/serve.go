package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/secureflow/secureflow/internal/config"
)

func newServeCmd(e *env) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long: `Run the gateway with the configuration in --config, overridden by SECUREFLOW_*
environment variables. See docs/configuration.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, warnings, err := config.Load(file, e.environ)
			if err != nil {
				return err
			}
			log := NewLogger(os.Stderr, cfg.Log.Level, cfg.Log.Format)
			for _, w := range warnings {
				log.Warn("configuration", "warning", w)
			}
			p, err := NewProgram(cmd.Context(), cfg, Options{Logger: log})
			if err != nil {
				return fmt.Errorf("start: %w", err)
			}
			return p.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "YAML configuration file (optional: everything can come from SECUREFLOW_* variables)")
	return cmd
}
