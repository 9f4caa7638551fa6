//go:build !race

package benchmarks

// RaceEnabled reports whether the race detector is on; workloads that would
// take minutes under it shrink.
const RaceEnabled = false
