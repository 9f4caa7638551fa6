package cloudevents

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Error is the error that the package's functions return. Its text is
// "cloudevents: ", then Detail, then, when Err is not nil, ": " and Err's
// text.
type Error struct {
	// Detail says what is wrong, such as `missing required attribute "id"`.
	Detail string
	// Err is the cause, when there is one: why a source is not a
	// URI-reference, the error of the caller's check of the type
	// attribute, or the failure to encode the metadata.
	Err error
}

// Error returns the text described on the type.
func (e *Error) Error() string {
	if e.Err == nil {
		return "cloudevents: " + e.Detail
	}
	return "cloudevents: " + e.Detail + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error with the formatted Detail and no cause.
func errorf(format string, args ...any) error {
	return &Error{Detail: fmt.Sprintf(format, args...)}
}

// jsonKind names the kind of a JSON value for error messages.
func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "a number"
	default:
		return "not json"
	}
}

// quoteShort quotes s for an error message, cutting it short when it is
// long so that a hostile document cannot make a huge error.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
