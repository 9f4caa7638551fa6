package nats

import (
	"fmt"
	"strings"

	"github.com/busline/eventbus"
	natsgo "github.com/nats-io/nats.go"
)

// Binary content mode, as the CloudEvents NATS protocol binding defines it
// for servers with message headers: every attribute but data in a header
// named "ce-" + its name, its value percent-encoded as the HTTP binding
// does, datacontenttype in the "content-type" header, and the data as the
// message body.
const (
	binaryPrefix      = "ce-"
	contentTypeHeader = "content-type"
)

// binaryMsg returns the headers and body that carry doc, a
// structured-mode CloudEvent, in binary content mode; bytes that are not a
// CloudEvent go as they are, without headers, as in structured mode, for
// the subscribers to dead-letter. The headers have room for extra more
// entries.
func binaryMsg(doc []byte, extra int) (natsgo.Header, []byte) {
	bin, err := eventbus.CloudEventToBinary(doc)
	if err != nil {
		return nil, doc
	}
	h := make(natsgo.Header, len(bin.Attributes)+extra)
	for name, value := range bin.Attributes {
		if name == "datacontenttype" {
			h[contentTypeHeader] = []string{value}
			continue
		}
		h[binaryPrefix+name] = []string{percentEncode(value)}
	}
	return h, bin.Data
}

// structuredData returns the structured-mode document of a message: its
// body, or, when its headers carry a binary-mode CloudEvent (a "ce-"
// header, in any case), the document made of them. The error says why a
// binary-mode message does not make a valid CloudEvent.
func structuredData(h natsgo.Header, body []byte) ([]byte, error) {
	var bin eventbus.BinaryCloudEvent
	for name, values := range h {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, binaryPrefix) || len(values) == 0 {
			continue
		}
		if bin.Attributes == nil {
			bin.Attributes = make(map[string]string, len(h))
		}
		value, err := percentDecode(values[0])
		if err != nil {
			return body, fmt.Errorf("eventbus/nats: binary-mode header %q: %w", name, err)
		}
		bin.Attributes[strings.TrimPrefix(lower, binaryPrefix)] = value
	}
	if bin.Attributes == nil {
		return body, nil // structured mode
	}
	for name, values := range h {
		if strings.EqualFold(name, contentTypeHeader) && len(values) > 0 {
			bin.Attributes["datacontenttype"] = values[0]
		}
	}
	bin.Data = body
	doc, err := eventbus.CloudEventFromBinary(bin)
	if err != nil {
		return body, fmt.Errorf("eventbus/nats: binary-mode message: %w", err)
	}
	return doc, nil
}

// percentEncode encodes the bytes of s that a header value must not carry
// as they are (space, '"', '%', and everything outside printable ASCII) as
// %XX, as the CloudEvents HTTP binding does.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f && c != '"' && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// percentDecode undoes percentEncode, and any other %XX of a producer's.
func percentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", fmt.Errorf("bad percent-encoding at byte %d", i)
		}
		b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
