package cloudevents

import "strconv"

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
func parseSequence(s string) (uint64, error) {
	if s == "" {
		return 0, errorf("sequence is empty")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errorf("sequence %s is not a decimal number", quoteShort(s))
		}
	}
	seq, err := strconv.ParseUint(s, 10, 64) // leading zeros are fine in base 10
	if err != nil {
		return 0, errorf("sequence %s does not fit in 64 bits", quoteShort(s))
	}
	return seq, nil
}
