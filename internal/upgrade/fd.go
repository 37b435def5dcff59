package upgrade

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// adoptFD wraps descriptor fd, inherited across exec, in an *os.File after
// checking that it is open and of file type want (syscall.S_IFSOCK,
// syscall.S_IFIFO), and marks it close-on-exec.
func adoptFD(fd int, want uint32, name string) (*os.File, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("fstat fd %d: %w", fd, err)
	}
	if got := uint32(st.Mode) & syscall.S_IFMT; got != want {
		return nil, fmt.Errorf("fd %d has file type %#o, want %#o", fd, got, want)
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), name), nil
}

// listenerFile returns a close-on-exec duplicate of ln's socket for handing
// to a child.
//
// It does not use (*net.TCPListener).File: that file's Fd method, which
// os.StartProcess calls for every ExtraFile, switches the descriptor to
// blocking mode. The flag lives on the open file description that the
// duplicate shares with ln, so the parent's own listener would turn
// blocking, and an Accept parked in the kernel could neither be interrupted
// by Close nor stop the parent from taking a connection while it drains.
// os.NewFile on a non-blocking descriptor leaves the mode alone.
func listenerFile(ln *net.TCPListener, name string) (*os.File, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("listener %q: %w", name, err)
	}
	var dupFD int
	var dupErr error
	if err := rc.Control(func(fd uintptr) { dupFD, dupErr = dupCloseOnExec(int(fd)) }); err != nil {
		return nil, fmt.Errorf("listener %q: %w", name, err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("listener %q: dup: %w", name, dupErr)
	}
	return os.NewFile(uintptr(dupFD), "listener-"+name), nil
}

// dupCloseOnExec duplicates fd with the close-on-exec flag set. Holding
// ForkLock keeps a concurrent fork from inheriting the duplicate between the
// two system calls.
func dupCloseOnExec(fd int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, err := syscall.Dup(fd)
	if err != nil {
		return -1, err
	}
	syscall.CloseOnExec(nfd)
	return nfd, nil
}
