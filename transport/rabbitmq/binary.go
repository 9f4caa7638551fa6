package rabbitmq

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/busline/eventbus"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Binary content mode, as the CloudEvents AMQP binding defines it: every
// attribute but data in an application property (a header, in AMQP 0-9-1)
// named "cloudEvents:" + its name, datacontenttype as the message's
// content type, and the data as the body. A message in structured mode has
// the content type "application/cloudevents+json" and the whole document
// as its body. Readers also take the prefix "cloudEvents_", which the
// binding allows for clients that cannot use ':'.
const (
	binaryPrefix    = "cloudEvents:"
	binaryPrefixAlt = "cloudEvents_"
)

// binaryPublishing sets msg's headers, content type and body to carry doc,
// a structured-mode CloudEvent, in binary content mode; it reports false,
// leaving msg alone, for bytes that are not a CloudEvent, which then go as
// they are for the subscribers to dead-letter.
func binaryPublishing(msg *amqp.Publishing, doc []byte) bool {
	bin, err := eventbus.CloudEventToBinary(doc)
	if err != nil {
		return false
	}
	headers := make(amqp.Table, len(bin.Attributes))
	msg.ContentType = ""
	for name, value := range bin.Attributes {
		if name == "datacontenttype" {
			msg.ContentType = value
			continue
		}
		headers[binaryPrefix+name] = value
	}
	msg.Headers, msg.Body = headers, bin.Data
	return true
}

// structuredData returns the structured-mode document of a delivery: its
// body, or, when its headers carry a binary-mode CloudEvent (a
// "cloudEvents:specversion" header, and a content type that is not a
// CloudEvents format's), the document made of them. The error says why a
// binary-mode message does not make a valid CloudEvent.
func structuredData(d amqp.Delivery) ([]byte, error) {
	if strings.HasPrefix(strings.ToLower(d.ContentType), "application/cloudevents") {
		return d.Body, nil
	}
	var bin eventbus.BinaryCloudEvent
	for key, v := range d.Headers {
		name, ok := strings.CutPrefix(key, binaryPrefix)
		if !ok {
			if name, ok = strings.CutPrefix(key, binaryPrefixAlt); !ok {
				continue
			}
		}
		if bin.Attributes == nil {
			bin.Attributes = make(map[string]string, len(d.Headers))
		}
		bin.Attributes[name] = headerText(v)
	}
	if _, binary := bin.Attributes["specversion"]; !binary {
		return d.Body, nil
	}
	if d.ContentType != "" {
		bin.Attributes["datacontenttype"] = d.ContentType
	}
	bin.Data = d.Body
	doc, err := eventbus.CloudEventFromBinary(bin)
	if err != nil {
		return d.Body, fmt.Errorf("eventbus/rabbitmq: binary-mode message: %w", err)
	}
	return doc, nil
}

// headerText returns the CloudEvents string form of an application
// property's value, whatever AMQP type the producer gave it: a Boolean as
// "true" or "false", an integer in decimal, a timestamp in RFC 3339, bytes
// in base64.
func headerText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int8:
		return strconv.FormatInt(int64(v), 10)
	case int16:
		return strconv.FormatInt(int64(v), 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint8:
		return strconv.FormatUint(uint64(v), 10)
	case uint16:
		return strconv.FormatUint(uint64(v), 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case []byte:
		return base64.StdEncoding.EncodeToString(v)
	}
	return fmt.Sprint(v)
}
