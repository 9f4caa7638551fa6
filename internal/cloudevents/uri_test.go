package cloudevents

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

var uriReferences = []string{
	"/eventbus", "/chat-service", "chat", "a/b:c", "./x", "../x", ".", "?q", "#f",
	"https://example.com/shop/orders", "http://user:pw@example.com:8080/p?q=1&r=2#frag",
	"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", "mailto:ops@example.com",
	"file:///var/log", "//example.com", "http://[::1]:80/", "http://[2001:db8::7]/c=GB",
	"http://127.0.0.1/", "/a%20b", "/%C3%BC", "tel:+1-816-555-1212",
	"x:", "a+b.c-d:rest", "/a?b?c/d#e?f/g", "/it's(ok)!$&*+,;=:@",
}

var notURIReferences = map[string]string{
	"":                        "empty",
	"a b":                     "path",
	"/a b":                    "path",
	"http://exa mple.com/":    "host",
	"/%zz":                    "percent",
	"/%2":                     "percent",
	"1abc:x":                  "scheme",
	":x":                      "scheme",
	"a_b:x":                   "scheme",
	"/a[b]":                   "path",
	"/x#a#b":                  "fragment",
	"/x?a{b}":                 "query",
	"http://[::1/":            "closing",
	"http://[::1]x/":          "follows",
	"http://[fe80::1%25en0]/": "ipv6",
	"http://[1.2.3.4]/":       "ipv6",
	"http://[v.x]/":           "ipv6",
	"http://h:8o/":            "port",
	"http://a@b@c/":           "userinfo",
	"/tab\there":              "path",
	"/new\nline":              "path",
	"/é":                      "path",
	`/quote"`:                 "path",
	"/back\\slash":            "path",
}

func TestCheckURIReference(t *testing.T) {
	for _, s := range uriReferences {
		assert.NoError(t, checkURIReference(s), "%q", s)
		assert.NoError(t, CheckSource(s), "%q", s)
	}
	for s, why := range notURIReferences {
		err := checkURIReference(s)
		if assert.Error(t, err, "%q", s) {
			assert.Contains(t, strings.ToLower(err.Error()), why, "%q", s)
		}
		err = CheckSource(s)
		var ce *Error
		if assert.True(t, errors.As(err, &ce), "%q: %v", s, err) {
			assert.Equal(t, "not a uri-reference", ce.Detail)
			assert.Equal(t, "cloudevents: not a uri-reference: "+ce.Err.Error(), err.Error())
		}
	}
}

// FuzzCheckURIReference checks that what checkURIReference accepts is made
// only of the URI character set with valid percent-encodings, that
// url.Parse accepts it too, and that it survives an Encode and Decode as
// the source.
func FuzzCheckURIReference(f *testing.F) {
	for _, s := range uriReferences {
		f.Add(s)
	}
	for s := range notURIReferences {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkURIReference(s) != nil {
			return
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !isPathOrQueryByte(c) && c != '#' && c != '[' && c != ']' {
				t.Fatalf("accepted %q with byte %q", s, c)
			}
			if c == '%' && (i+2 >= len(s) || !isHexByte(s[i+1]) || !isHexByte(s[i+2])) {
				t.Fatalf("accepted %q with a bad percent-encoding", s)
			}
		}
		if _, err := url.Parse(s); err != nil {
			t.Fatalf("accepted %q, which url.Parse refuses: %v", s, err)
		}
		in := fullEvent()
		in.Source = s
		data, err := Encode(in)
		if err != nil {
			t.Fatalf("encode with source %q: %v", s, err)
		}
		out, err := Decode(data, DecodeOptions{ContentType: "application/json"})
		if err != nil {
			t.Fatalf("decode with source %q: %v", s, err)
		}
		if out.Source != s {
			t.Fatalf("source %q came back as %q", s, out.Source)
		}
	})
}
