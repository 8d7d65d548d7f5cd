package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newDemoCmd(e *env) *cobra.Command {
	var addr, dataDir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the gateway with built-in WhatsApp and Genesys emulators and a web page",
		Long: `Run one process with an embedded SQLite database, the gateway, and emulators of
the WhatsApp Cloud API and Genesys Cloud Open Messaging wired to it. Open the
printed URL to act as the customer and as the agent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				d, err := os.MkdirTemp("", "secureflow-demo-")
				if err != nil {
					return err
				}
				dataDir = d
			}
			log := NewLogger(os.Stderr, "info", "text")
			s, err := newStack(cmd.Context(), stackOptions{Addr: addr, DataDir: dataDir, Logger: log})
			if err != nil {
				return err
			}
			u := s.URL()
			fmt.Fprintf(e.stdout, `secureflow demo is running.

  Demo page:          %s/
  WhatsApp emulator:  %s/emulator/whatsapp/   (POST customer-messages, GET sent)
  Genesys emulator:   %s/emulator/genesys/    (POST agent-messages, GET received)
  Metrics:            %s/metrics
  Data directory:     %s

Press Ctrl-C to stop.
`, u, u, u, u, dataDir)
			runErr := s.Run(cmd.Context())
			return errors.Join(runErr, s.Close())
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "directory for the database and keys (default: a new temporary directory)")
	return cmd
}
