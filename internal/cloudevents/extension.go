package cloudevents

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Kind is the CloudEvents type of an extension attribute's value, as far
// as the JSON format tells it: a JSON boolean is a Boolean, a JSON number
// an Integer, and a JSON string any of the string-carried types (String,
// Binary, URI, URI-reference, Timestamp), kept as a String.
type Kind uint8

const (
	String Kind = iota
	Boolean
	Integer
)

// Extension is an extension attribute that no field of Event holds.
type Extension struct {
	Name string
	Kind Kind
	// Text is the value: the string of a String, "true" or "false" for a
	// Boolean, the decimal integer of an Integer.
	Text string
}

// CheckExtensionName reports whether name can name an extension
// attribute: one to twenty lowercase ASCII letters and digits, and not the
// name of an attribute the format defines or the bus uses.
func CheckExtensionName(name string) error {
	if name == "" || len(name) > 20 || strings.IndexFunc(name, func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
	}) >= 0 {
		return errorf("extension name %s: want 1 to 20 lowercase letters and digits", quoteShort(name))
	}
	if isKnownAttribute(name) {
		return errorf("extension name %q is the name of an attribute the bus writes", name)
	}
	return nil
}

// CheckExtension reports whether e is a valid extension attribute: a valid
// name (see CheckExtensionName) and, for a Boolean or an Integer, a value
// of that type (an Integer is a 32-bit signed integer).
func CheckExtension(e Extension) error {
	if err := CheckExtensionName(e.Name); err != nil {
		return err
	}
	switch e.Kind {
	case String:
	case Boolean:
		if e.Text != "true" && e.Text != "false" {
			return errorf("extension %q: boolean %s", e.Name, quoteShort(e.Text))
		}
	case Integer:
		if _, err := strconv.ParseInt(e.Text, 10, 32); err != nil {
			return errorf("extension %q: %s is not a 32-bit integer", e.Name, quoteShort(e.Text))
		}
	default:
		return errorf("extension %q: unknown kind %d", e.Name, e.Kind)
	}
	return nil
}

// IsKnownAttribute reports whether name is an attribute that Event has a
// field for, or data: not a name an extension may have.
func IsKnownAttribute(name string) bool { return isKnownAttribute(name) }

// isKnownAttribute is IsKnownAttribute.
func isKnownAttribute(name string) bool {
	return name == attrData || name == attrDataBase64 || slices.Contains(knownAttributes, name)
}

// parseExtension makes an Extension of a member the decoder has no field
// for. A name that breaks the naming rule, or a value that is not a
// string, a boolean or a 32-bit integer, is an error.
func parseExtension(name string, raw []byte) (Extension, error) {
	if err := CheckExtensionName(name); err != nil {
		return Extension{}, err
	}
	switch {
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Extension{}, errorf("extension %q: %v", name, err)
		}
		return Extension{Name: name, Kind: String, Text: s}, nil
	case bytes.Equal(raw, []byte("true")) || bytes.Equal(raw, []byte("false")):
		return Extension{Name: name, Kind: Boolean, Text: string(raw)}, nil
	case raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9':
		n, err := strconv.ParseInt(string(raw), 10, 32)
		if err != nil {
			return Extension{}, errorf("extension %q: %s is not a 32-bit integer", name, quoteShort(string(raw)))
		}
		return Extension{Name: name, Kind: Integer, Text: strconv.FormatInt(n, 10)}, nil
	}
	return Extension{}, errorf("extension %q is %s, not a string, a boolean or an integer", name, jsonKind(raw))
}

// appendExtensions appends the extensions to a JSON object being written,
// sorted by name, each as a member of its kind's JSON type.
func appendExtensions(dst []byte, exts []Extension) []byte {
	if !slices.IsSortedFunc(exts, compareExtensions) {
		exts = slices.SortedFunc(slices.Values(exts), compareExtensions)
	}
	for _, e := range exts {
		dst = append(dst, ',')
		dst = appendJSONString(dst, e.Name)
		dst = append(dst, ':')
		if e.Kind == String {
			dst = appendJSONString(dst, e.Text)
		} else {
			dst = append(dst, e.Text...)
		}
	}
	return dst
}

func compareExtensions(a, b Extension) int { return strings.Compare(a.Name, b.Name) }
