//go:build !unix

package pgtest

import "os/exec"

// setCredential is a no-op where processes cannot change user; Geteuid is
// -1 there, so it is never called.
func setCredential(*exec.Cmd, uint32, uint32) {}
