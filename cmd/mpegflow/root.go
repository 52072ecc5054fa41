package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/mpegflow/mpegflow/conf"
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

// commandNames are the top-level commands.
func commandNames() []string {
	return []string{"serve", "quickstart", "config", "healthcheck", "version", "help", "live-inputs", "tokens", "events", "completion"}
}

// run is the whole CLI: args without the program name; it returns the exit
// status (0 ok, 1 failure, 2 usage).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "--version", "-v":
		fmt.Fprintln(stdout, "mpegflow", buildVersion())
		return 0
	case "-h", "--help":
		usage(stdout)
		return 0
	case "help":
		if len(args) == 1 {
			usage(stdout)
			return 0
		}
	}
	if !slices.Contains(commandNames(), args[0]) {
		fmt.Fprintf(stderr, "mpegflow: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	root := newRoot(stdout, stderr, os.Getenv)
	root.SetArgs(args)
	err := root.Execute()
	var st exitStatus
	var re runError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &st):
		return int(st)
	case errors.As(err, &re):
		fmt.Fprintln(stderr, "mpegflow:", re.err)
		return 1
	}
	fmt.Fprintln(stderr, "mpegflow:", err)
	return 2
}

// legacy wraps a command that parses its own flags (the daemon commands
// keep their standard-library flag syntax: -config and --config).
func legacy(use, short string, f func(args []string) int) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if code := f(args); code != 0 {
				return exitStatus(code)
			}
			return nil
		},
	}
}

func newRoot(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use: "mpegflow", Short: "MpegFlow live video platform",
		SilenceErrors: true, SilenceUsage: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	defHelp := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if c == root {
			usage(stdout)
			return
		}
		defHelp(c, args)
	})
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })

	root.AddCommand(
		legacy("serve", "run the daemon", func(a []string) int { return serve(a, stdout, stderr) }),
		legacy("quickstart", "print the OBS settings and playback URLs", func(a []string) int { return quickstart(a, stdout, stderr) }),
		legacy("healthcheck", "exit 0 when the daemon answers ready", func(a []string) int { return healthcheck(a, stderr) }),
		legacy("config", "print or check the configuration", func(a []string) int { return configCmd(a, stdout, stderr) }),
		&cobra.Command{Use: "version", Short: "print the version", Args: cobra.ArbitraryArgs, Run: func(*cobra.Command, []string) {
			fmt.Fprintln(stdout, "mpegflow", buildVersion())
		}},
	)
	cl := &clientFlags{getenv: getenv, stdout: stdout, stderr: stderr}
	root.AddCommand(liveInputsCmd(cl), tokensCmd(cl), eventsCmd(cl))
	root.CompletionOptions.HiddenDefaultCmd = true
	return root
}

func configCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) >= 1 && args[0] == "default" {
		_, _ = stdout.Write(conf.Default())
		return 0
	}
	if len(args) >= 1 && args[0] == "check" {
		if _, err := loadConfig("config check", args[1:], stderr); err != nil {
			return 1
		}
		fmt.Fprintln(stdout, "configuration ok")
		return 0
	}
	usage(stderr)
	return 2
}
