//go:build !unix

package redis

import "time"

// processCPU reports that the CPU time of the test process is not known
// on this system.
func processCPU() (time.Duration, bool) { return 0, false }
