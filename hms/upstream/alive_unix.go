//go:build unix

package upstream

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"
)

var errUnexpectedData = errors.New("unexpected data on an idle connection")

// checkAlive reports whether an idle connection is still open, without blocking: a closed
// connection reads EOF (or an error), a live idle one would block. Data waiting on an idle
// connection means the stream is out of step, which is as bad as closed.
func checkAlive(nc net.Conn) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	// The last call's read deadline has passed by now, and RawConn.Read would fail on it with
	// a timeout before looking at the socket: clear it first.
	if err := nc.SetReadDeadline(time.Time{}); err != nil {
		return err
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var checkErr error
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, err := syscall.Read(int(fd), buf[:])
		switch {
		case n == 0 && err == nil:
			checkErr = io.EOF
		case n > 0:
			checkErr = errUnexpectedData
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
			checkErr = nil
		default:
			checkErr = err
		}
		return true
	})
	if err != nil {
		return err
	}
	return checkErr
}
