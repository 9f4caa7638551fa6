package redis

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
)

// streamKey returns the key of the stream that holds a topic's events.
func streamKey(prefix, topic string) string {
	return prefix + ":" + topic
}

// newConsumerName returns a name for one subscription's consumer in its
// group, unique to it: the host's name, the process ID and eight random hex
// digits.
func newConsumerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
