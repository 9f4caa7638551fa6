package rabbitmq

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// maxQueueBase bounds the length of a group's queue name, leaving room
// under the server's 255 bytes for the suffix of its delay queues.
const maxQueueBase = 200

// queueNameFor returns the name of the queue of group on target, a topic
// or, with suffix "/p", a pattern. Topic names contain no '/', '*' or '>',
// so the queue of a plain group, "<prefix>/<topic>/<group>", never takes
// the name of a pattern group's, "<prefix>/<pattern>/<group>/p". A name
// longer than maxQueueBase is cut and ends in '~' and sixteen hex digits
// of a SHA-256 of the whole name, '~' appearing in no name.
func queueNameFor(prefix, target, group, suffix string) string {
	name := prefix + "/" + target + "/" + group + suffix
	if len(name) <= maxQueueBase {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:maxQueueBase-17] + "~" + hex.EncodeToString(sum[:8])
}

// delayQueueName returns the name of the delay queue of queue whose
// messages wait ms milliseconds.
func delayQueueName(queue string, ms int64) string {
	return queue + "/delay/" + strconv.FormatInt(ms, 10)
}

// bindingKey returns the routing key that binds a pattern group's queue:
// the bus's "*" is AMQP's "*", and its trailing ">", one or more tokens, is
// "*.#", since AMQP's "#" alone also matches zero tokens.
func bindingKey(pattern string) string {
	if rest, ok := strings.CutSuffix(pattern, ">"); ok {
		return rest + "*.#"
	}
	return pattern
}
