package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// env carries the process environment into commands; no command reads
// os.Environ or os.Stdin directly, so tests can run them in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, environ: environ}
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		var ec exitCode
		if errors.As(err, &ec) {
			return int(ec)
		}
		fmt.Fprintln(stderr, "secureflow:", err)
		return 1
	}
	return 0
}

// exitCode ends a command with a specific status and no further message
// (the command already printed what it had to say).
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "secureflow",
		Short: "Voice-grade secure flows for messaging: a WhatsApp ⇄ Genesys Cloud gateway that keeps secrets out of the contact centre",
		Long: `secureflow sits between WhatsApp (Cloud API) and Genesys Cloud (Open Messaging).
It relays conversations with durable, ordered, at-least-once delivery and keeps
secrets captured or volunteered by customers away from agents, transcripts and logs.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(e), newDemoCmd(e), newVersionCmd(e), newBenchCmd(e), newFlowsCmd(e), newDetectCmd(e), newKeysCmd(e), newAuditCmd(e), newAPIKeyCmd(), newWhatsAppFlowsCmd())
	return root
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(e.stdout, "secureflow", version)
			return err
		},
	}
}
