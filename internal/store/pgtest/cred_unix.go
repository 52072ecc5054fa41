//go:build unix

package pgtest

import (
	"os/exec"
	"syscall"
)

// setCredential makes cmd run as uid:gid (the caller is root).
func setCredential(cmd *exec.Cmd, uid, gid uint32) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
}
