//go:build unix

package redis

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time, user and system, that the test process
// has used so far (not its children, such as redis-server), and whether it
// could tell.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
