package kafka

import (
	"fmt"
	"strings"

	"github.com/busline/eventbus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Binary content mode, as the CloudEvents Kafka protocol binding defines
// it: every attribute but data in a header named "ce_" + its name,
// datacontenttype in the "content-type" header, and the data as the
// record's value. A record in structured mode has the content type
// "application/cloudevents+json" (or another "application/cloudevents"
// type) and the whole document as its value.
const binaryPrefix = "ce_"

// binaryRecord sets rec's value and headers to carry doc, a structured-mode
// CloudEvent, in binary content mode, after extra; it reports false,
// leaving rec alone, for bytes that are not a CloudEvent, which then go as
// they are for the subscribers to dead-letter.
func binaryRecord(rec *kgo.Record, doc []byte, extra ...kgo.RecordHeader) bool {
	bin, err := eventbus.CloudEventToBinary(doc)
	if err != nil {
		return false
	}
	headers := append(make([]kgo.RecordHeader, 0, len(bin.Attributes)+len(extra)), extra...)
	for name, value := range bin.Attributes {
		key := binaryPrefix + name
		if name == "datacontenttype" {
			key = HeaderContentType
		}
		headers = append(headers, kgo.RecordHeader{Key: key, Value: []byte(value)})
	}
	rec.Value, rec.Headers = bin.Data, headers
	return true
}

// structuredData returns the structured-mode document of a record: its
// value, or, when its headers carry a binary-mode CloudEvent (a
// "ce_specversion" header, and a content type that is not a CloudEvents
// format's), the document made of them. The error says why a binary-mode
// record does not make a valid CloudEvent.
func structuredData(r *kgo.Record) ([]byte, error) {
	var contentType string
	binary := false
	for _, h := range r.Headers {
		switch key := strings.ToLower(h.Key); {
		case key == HeaderContentType:
			contentType = string(h.Value)
		case key == binaryPrefix+"specversion":
			binary = true
		}
	}
	if !binary || strings.HasPrefix(strings.ToLower(contentType), "application/cloudevents") {
		return r.Value, nil
	}
	bin := eventbus.BinaryCloudEvent{Attributes: make(map[string]string, len(r.Headers)), Data: r.Value}
	for _, h := range r.Headers {
		if key := strings.ToLower(h.Key); strings.HasPrefix(key, binaryPrefix) {
			bin.Attributes[strings.TrimPrefix(key, binaryPrefix)] = string(h.Value)
		}
	}
	if contentType != "" {
		bin.Attributes["datacontenttype"] = contentType
	}
	doc, err := eventbus.CloudEventFromBinary(bin)
	if err != nil {
		return r.Value, fmt.Errorf("eventbus/kafka: binary-mode record: %w", err)
	}
	return doc, nil
}
