package storekit

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/eventstore"
)

// EncodeMetadata returns the stored form of an envelope's metadata: a JSON
// object, or an empty string for none.
func EncodeMetadata(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("eventstore: encode metadata: %w", err)
	}
	return string(b), nil
}

// DecodeMetadata is the inverse of EncodeMetadata.
func DecodeMetadata(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("eventstore: stored metadata does not decode: %w", err)
	}
	return m, nil
}

// Complete sets what a scanned record's row holds in another form: its
// position and version, its metadata and CloudEvents attributes from
// their stored forms, and empty data for none.
func Complete(r *eventstore.Record, position, version int64, meta, attrs string) error {
	r.Position, r.Version = uint64(position), uint64(version)
	var err error
	if r.Envelope.Metadata, err = DecodeMetadata(meta); err != nil {
		return err
	}
	if r.Envelope.CloudEvent, err = DecodeCloudEvent(attrs); err != nil {
		return err
	}
	if r.Data == nil {
		r.Data = []byte{}
	}
	return nil
}

// EncodeCloudEvent returns the stored form of an envelope's CloudEvents
// attributes: a JSON object, or an empty string for none.
func EncodeCloudEvent(a *eventbus.CloudEventAttributes) (string, error) {
	if a == nil || reflect.ValueOf(*a).IsZero() {
		return "", nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("eventstore: encode cloudevents attributes: %w", err)
	}
	return string(b), nil
}

// DecodeCloudEvent is the inverse of EncodeCloudEvent.
func DecodeCloudEvent(s string) (*eventbus.CloudEventAttributes, error) {
	if s == "" {
		return nil, nil
	}
	var a eventbus.CloudEventAttributes
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return nil, fmt.Errorf("eventstore: stored cloudevents attributes do not decode: %w", err)
	}
	return &a, nil
}
