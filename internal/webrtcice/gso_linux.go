package webrtcice

import (
	"encoding/binary"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gsoSupported says whether the kernel takes UDP_SEGMENT (UDP generic
// segmentation offload, Linux 4.18+) on conn's socket.
func gsoSupported(conn *net.UDPConn) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	_ = rc.Control(func(fd uintptr) {
		_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		ok = err == nil
	})
	return ok
}

// gsoCmsgSpace is the room of one UDP_SEGMENT control message.
func gsoCmsgSpace() int { return unix.CmsgSpace(2) }

// appendGSOCmsg appends the control message that has the kernel split a
// datagram into segments of size bytes (the last may be shorter).
func appendGSOCmsg(b []byte, size uint16) []byte {
	start := len(b)
	b = append(b, make([]byte, gsoCmsgSpace())...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[start]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[start+unix.CmsgLen(0):], size)
	return b
}
