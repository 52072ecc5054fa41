//go:build !unix

package hls

import "time"

// processCPU is not measured on this platform.
func processCPU() time.Duration { return 0 }
