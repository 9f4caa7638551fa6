package cloudevents

// CheckSource reports whether source can be the source attribute: a
// non-empty URI-reference. The error is an *Error with the Detail "not a
// uri-reference" and, as Err, what is wrong with source.
func CheckSource(source string) error {
	if err := checkSource(source); err != nil {
		return &Error{Detail: "not a uri-reference", Err: err}
	}
	return nil
}

// checkSource is CheckSource's check; its error says what is wrong with
// source.
func checkSource(source string) error {
	if isPlainPath(source) && source != "" {
		return nil // the common case, such as "/chat-service": always a valid reference
	}
	return checkURIReference(source)
}

// isPlainPath reports whether s has only unreserved URI characters and
// slashes, which makes it a relative reference.
func isPlainPath(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isUnreservedByte(c) && c != '/' {
			return false
		}
	}
	return true
}
