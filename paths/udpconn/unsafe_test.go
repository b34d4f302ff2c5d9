// SPDX-License-Identifier: MIT

package udpconn

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

func unsafeBytes(w []uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*8)
}

func unsafeBytesOf(sa *unix.RawSockaddrInet6) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(sa)), unsafe.Sizeof(*sa))
}

func unsafeByteSlice(p *byte, n int) []byte { return unsafe.Slice(p, n) }
