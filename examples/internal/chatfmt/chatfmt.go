// Package chatfmt holds the wording that the chat examples share.
package chatfmt

import "strconv"

// Link says how a reply relates to the event that caused it. A message
// published from outside any handler is a root event: it starts a chain of
// its own, so its ID is also the correlation ID of every event the chain
// goes on to cause, and saying it once is enough.
func Link(correlationID, causationID string) string {
	if correlationID == causationID {
		return "caused by root event " + causationID + ", whose ID is the chain's correlation ID"
	}
	return "caused by event " + causationID + ", correlation ID " + correlationID
}

// Count returns n followed by one when n is 1, and by many otherwise.
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
