package cloudevents

import (
	"math"
	"strconv"
)

// sequenceDigits is the number of decimal digits of the largest uint64.
// Sequences are zero-padded to it, because the CloudEvents sequence
// extension requires values that order lexicographically.
const sequenceDigits = 20

// appendSequence appends seq in decimal, zero-padded to sequenceDigits.
func appendSequence(dst []byte, seq uint64) []byte {
	const zeros = "00000000000000000000"
	var digits [sequenceDigits]byte
	n := len(strconv.AppendUint(digits[:0], seq, 10))
	dst = append(dst, zeros[:sequenceDigits-n]...)
	return append(dst, digits[:n]...)
}

// parseSequence parses a sequence written by appendSequence or any other
// decimal representation of a uint64, with or without leading zeros.
func parseSequence(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, errorf("sequence is empty")
	}
	var seq uint64
	overflow := false
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errorf("sequence %s is not a decimal number", quoteShort(string(b)))
		}
		d := uint64(c - '0')
		if seq > (math.MaxUint64-d)/10 {
			overflow = true
		}
		seq = seq*10 + d
	}
	if overflow {
		return 0, errorf("sequence %s does not fit in 64 bits", quoteShort(string(b)))
	}
	return seq, nil
}
