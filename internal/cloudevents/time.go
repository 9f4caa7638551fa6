package cloudevents

import (
	"bytes"
	"time"
)

// appendTime appends t in UTC as an RFC 3339 timestamp with nanoseconds.
// It refuses a time whose UTC year has no four-digit form.
func appendTime(dst []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	if !inRFC3339Years(t) {
		return nil, errorf("event time cannot be written as rfc 3339: year %d outside 0000-9999", t.Year())
	}
	return t.AppendFormat(dst, time.RFC3339Nano), nil
}

// parseTime parses an RFC 3339 timestamp and returns it in UTC, refusing
// one that has no RFC 3339 form in UTC.
func parseTime(b []byte) (time.Time, error) {
	var t time.Time
	if err := t.UnmarshalText(b); err != nil || !strictRFC3339(b) {
		return time.Time{}, errorf("time %s is not an rfc 3339 timestamp", quoteShort(string(b)))
	}
	t = t.UTC()
	if !inRFC3339Years(t) {
		return time.Time{}, errorf("time %s is outside the years 0000-9999 in utc", quoteShort(string(b)))
	}
	return t, nil
}

// inRFC3339Years reports whether t's year has the four digits that RFC
// 3339 writes.
func inRFC3339Years(t time.Time) bool {
	y := t.Year()
	return y >= 0 && y <= 9999
}

// strictRFC3339 refuses what time.Time.UnmarshalText accepts beyond RFC
// 3339, given a string that it accepted: a comma before the fraction of a
// second, and an offset of 24 hours.
func strictRFC3339(s []byte) bool {
	if bytes.IndexByte(s, ',') >= 0 {
		return false
	}
	if n := len(s); n >= 6 && (s[n-6] == '+' || s[n-6] == '-') && string(s[n-5:n-3]) > "23" {
		return false
	}
	return true
}
