package cloudevents

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// checkURIReference reports whether s is a URI-reference as RFC 3986
// defines it (section 4.1): an absolute URI such as
// "https://example.com/orders" or "urn:uuid:…", or a relative reference
// such as "/chat-service". Characters outside the URI character set, such
// as spaces, must be percent-encoded. It is stricter than url.Parse, which
// accepts many strings that are not references, and also requires that
// url.Parse accepts s, so that Go consumers can read what it lets through
// (url.Parse refuses a few percent-encodings in hosts, such as "%00").
// Its error says what is wrong, without a package prefix: CheckSource and
// Decode put it in an *Error.
func checkURIReference(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if err := checkPercentEncoding(s); err != nil {
		return err
	}
	rest, fragment, _ := strings.Cut(s, "#")
	if i := firstNotIn(fragment, isPathOrQueryByte); i >= 0 {
		return badURIByte(fragment, i, "fragment")
	}
	rest, query, _ := strings.Cut(rest, "?")
	if i := firstNotIn(query, isPathOrQueryByte); i >= 0 {
		return badURIByte(query, i, "query")
	}
	// A colon before the first slash ends a scheme; a relative reference
	// cannot have one in its first segment.
	if colon := strings.IndexByte(rest, ':'); colon >= 0 && !strings.Contains(rest[:colon], "/") {
		if !isScheme(rest[:colon]) {
			return fmt.Errorf("scheme %s is not letters, digits, '+', '-' and '.' starting with a letter", quoteShort(rest[:colon]))
		}
		rest = rest[colon+1:]
	}
	path := rest
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		authority := after
		if slash := strings.IndexByte(after, '/'); slash >= 0 {
			authority, path = after[:slash], after[slash:]
		} else {
			path = ""
		}
		if err := checkAuthority(authority); err != nil {
			return err
		}
	}
	if i := firstNotIn(path, isPathByte); i >= 0 {
		return badURIByte(path, i, "path")
	}
	if _, err := url.Parse(s); err != nil {
		return fmt.Errorf("net/url cannot parse it: %w", errors.Unwrap(err))
	}
	return nil
}

// checkAuthority checks the [userinfo "@"] host [":" port] of a reference.
func checkAuthority(a string) error {
	if at := strings.LastIndexByte(a, '@'); at >= 0 {
		userinfo := a[:at]
		if i := firstNotIn(userinfo, func(c byte) bool { return isRegNameByte(c) || c == ':' }); i >= 0 {
			return badURIByte(userinfo, i, "userinfo")
		}
		a = a[at+1:]
	}
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return fmt.Errorf("host %s has no closing ']'", quoteShort(a))
		}
		host, port = a[:end+1], a[end+1:]
		if err := checkIPLiteral(host[1:end]); err != nil {
			return err
		}
		if port != "" && port[0] != ':' {
			return fmt.Errorf("%s follows the host %s", quoteShort(port), quoteShort(host))
		}
		port = strings.TrimPrefix(port, ":")
	} else {
		if colon := strings.IndexByte(a, ':'); colon >= 0 {
			host, port = a[:colon], a[colon+1:]
		}
		if i := firstNotIn(host, isRegNameByte); i >= 0 {
			return badURIByte(host, i, "host")
		}
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return fmt.Errorf("port %s is not a number", quoteShort(port))
		}
	}
	return nil
}

// checkIPLiteral checks what is between the brackets of a host: an IPv6
// address without a zone. (RFC 3986 also allows an "IPvFuture" there,
// which url.Parse refuses.)
func checkIPLiteral(lit string) error {
	addr, err := netip.ParseAddr(lit)
	if err != nil || !addr.Is6() || addr.Zone() != "" {
		return fmt.Errorf("host %s is not an IPv6 address", quoteShort("["+lit+"]"))
	}
	return nil
}

// checkPercentEncoding reports a '%' not followed by two hex digits.
func checkPercentEncoding(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || !isHexByte(s[i+1]) || !isHexByte(s[i+2])) {
			return fmt.Errorf("%s has a bad percent-encoding: '%%' not followed by two hex digits", quoteShort(s))
		}
	}
	return nil
}

// badURIByte describes the byte at i of part, which may not be there.
func badURIByte(part string, i int, where string) error {
	return fmt.Errorf("%s %s has %q, which must be percent-encoded", where, quoteShort(part), part[i:i+1])
}

// firstNotIn returns the index of the first byte of s that ok rejects, or
// -1.
func firstNotIn(s string, ok func(byte) bool) int {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return i
		}
	}
	return -1
}

func isScheme(s string) bool {
	if s == "" || !isAlphaByte(s[0]) {
		return false
	}
	return firstNotIn(s, func(c byte) bool {
		return isAlphaByte(c) || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
	}) < 0
}

func isAlphaByte(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isHexByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isUnreservedByte: ALPHA / DIGIT / "-" / "." / "_" / "~".
func isUnreservedByte(c byte) bool {
	return isAlphaByte(c) || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// isSubDelimByte: "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "=".
func isSubDelimByte(c byte) bool { return strings.IndexByte("!$&'()*+,;=", c) >= 0 }

// isRegNameByte: unreserved / pct-encoded / sub-delims; the encoding is
// checked on its own.
func isRegNameByte(c byte) bool { return isUnreservedByte(c) || isSubDelimByte(c) || c == '%' }

// isPathByte: pchar / "/", where pchar adds ":" and "@" to a reg-name's.
func isPathByte(c byte) bool { return isRegNameByte(c) || c == ':' || c == '@' || c == '/' }

// isPathOrQueryByte: a query's or fragment's bytes, a path's and "?".
func isPathOrQueryByte(c byte) bool { return isPathByte(c) || c == '?' }
