package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mpegflow/mpegflow/conf"
)

// Exit statuses of the CLI (documented in the root help and the README).
const (
	exitOK    = 0 // done
	exitError = 1 // the API answered an error, or the network or the daemon failed
	exitUsage = 2 // a usage error: unknown command or flag, wrong arguments
)

// exitStatus is an error that carries the process's exit status; the
// message has already been printed.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// runError is a failure of a command that ran (exit 1), as opposed to a
// usage error (exit 2).
type runError struct{ err error }

func (e runError) Error() string { return e.err.Error() }
func (e runError) Unwrap() error { return e.err }

func fail(err error) error {
	if err == nil {
		return nil
	}
	return runError{err}
}

// run is the whole CLI: args without the program name; it returns the exit
// status (0 ok, 1 failure, 2 usage).
func run(args []string, stdout, stderr io.Writer) int {
	root, cl := newRootFlags(stdout, stderr, os.Getenv)
	if len(args) == 0 {
		root.SetOut(stderr)
		_ = root.Help()
		return exitUsage
	}
	root.SetArgs(args)
	err := root.Execute()
	var st exitStatus
	var re runError
	code := exitUsage
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &st):
		return int(st)
	case errors.As(err, &re):
		code, err = exitError, re.err
	}
	if cl.output == "json" {
		writeJSONError(stderr, err, code)
	} else if code == exitUsage {
		fmt.Fprintf(stderr, "mpegflow: %v\nrun 'mpegflow --help' (or 'mpegflow COMMAND --help') for usage\n", err)
	} else {
		fmt.Fprintln(stderr, "mpegflow:", err)
	}
	return code
}

// writeJSONError prints err as the API's error envelope (an API error as
// the API sent it; others with code usage_error or cli_error).
func writeJSONError(w io.Writer, err error, code int) {
	body := map[string]any{"code": "cli_error", "message": err.Error()}
	if code == exitUsage {
		body["code"] = "usage_error"
	}
	var ae *apiError
	if errors.As(err, &ae) {
		body = map[string]any{"code": ae.Code, "message": ae.Message, "status": ae.Status}
		if len(ae.Details) > 0 {
			body["details"] = ae.Details
		}
	}
	b, _ := json.Marshal(map[string]any{"error": body})
	fmt.Fprintf(w, "%s\n", b)
}

// usageError is a usage error (exit 2) a command finds itself.
func usageError(format string, args ...any) error { return fmt.Errorf(format, args...) }

// group returns a command that only holds subcommands: without one, or
// with an unknown one, it is a usage error.
func group(use, short string, aliases ...string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Aliases: aliases, Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageError("%s needs a subcommand; see 'mpegflow %s --help'", c.Name(), c.Name())
		}}
}

const rootLong = `MpegFlow is a self-hosted live video platform in one binary.

The API clients (every command but serve, quickstart, healthcheck, config
and version) take --url (or MPEGFLOW_URL), --token (or MPEGFLOW_TOKEN) and
-o table|json|yaml. Under -o json, errors are printed to stderr as the API's
envelope {"error": {"code", "message", ...}}.

Exit status: 0 ok; 1 the API answered an error, or the network or the
daemon failed; 2 usage error (unknown command or flag, wrong arguments).`

func newRoot(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	root, _ := newRootFlags(stdout, stderr, getenv)
	return root
}

// newRootFlags returns the command tree and the API clients' shared flags.
func newRootFlags(stdout, stderr io.Writer, getenv func(string) string) (*cobra.Command, *clientFlags) {
	root := &cobra.Command{
		Use: "mpegflow", Short: "MpegFlow live video platform", Long: rootLong,
		SilenceErrors: true, SilenceUsage: true, Version: buildVersion(), Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return usageError("a command is needed") },
	}
	root.SetVersionTemplate("mpegflow {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	root.AddCommand(serveCmd(stdout, stderr), quickstartCmd(stdout, stderr), healthcheckCmd(stderr), configCmd(stdout, stderr),
		&cobra.Command{Use: "version", Short: "print the version", Args: cobra.NoArgs, Run: func(*cobra.Command, []string) {
			fmt.Fprintln(stdout, "mpegflow", buildVersion())
		}},
	)
	cl := &clientFlags{getenv: getenv, stdout: stdout, stderr: stderr}
	root.AddCommand(liveInputsCmd(cl), videosCmd(cl), webhooksCmd(cl), tokensCmd(cl), signingKeysCmd(cl),
		playbackTokensCmd(cl), sessionsCmd(cl), eventsCmd(cl), applyCmd(cl), diffCmd(cl), pipelinesCmd(cl))
	root.CompletionOptions.HiddenDefaultCmd = true
	return root, cl
}

func configCmd(stdout, stderr io.Writer) *cobra.Command {
	c := group("config", "print or check the configuration")
	var path string
	check := &cobra.Command{Use: "check", Short: "validate a configuration (defaults, the file, MPEGFLOW_* variables) and exit", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if _, err := loadConfig(path, stderr); err != nil {
				return exitStatus(exitError)
			}
			fmt.Fprintln(stdout, "configuration ok")
			return nil
		}}
	check.Flags().StringVar(&path, "config", "", "configuration file (YAML); defaults are embedded")
	c.AddCommand(&cobra.Command{Use: "default", Short: "print the default configuration file", Args: cobra.NoArgs,
		Run: func(*cobra.Command, []string) { _, _ = stdout.Write(conf.Default()) }}, check)
	return c
}
