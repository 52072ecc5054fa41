//go:build !linux

package webrtcice

import "net"

// gsoSupported is false: UDP_SEGMENT is Linux's.
func gsoSupported(*net.UDPConn) bool { return false }

func gsoCmsgSpace() int { return 0 }

func appendGSOCmsg(b []byte, _ uint16) []byte { return b }
