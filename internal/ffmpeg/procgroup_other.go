//go:build !unix

package ffmpeg

import "os/exec"

// setProcessGroup: without process groups only ffmpeg itself is killed.
func setProcessGroup(cmd *exec.Cmd) {}

func killGroup(cmd *exec.Cmd) {}
