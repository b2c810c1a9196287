//go:build unix

package main

import "syscall"

// openFileLimit is the soft RLIMIT_NOFILE, which Go's runtime has already raised to the
// hard limit at start-up (syscall's init, since Go 1.19); raising it again here would also
// change what the transcriber's tools inherit.
func openFileLimit() (uint64, bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, false
	}
	return uint64(lim.Cur), true
}
