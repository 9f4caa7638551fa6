package storekit

import (
	"encoding/json"
	"fmt"

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
// position and version, its metadata from the stored form, and empty data
// for none.
func Complete(r *eventstore.Record, position, version int64, meta string) error {
	r.Position, r.Version = uint64(position), uint64(version)
	var err error
	if r.Envelope.Metadata, err = DecodeMetadata(meta); err != nil {
		return err
	}
	if r.Data == nil {
		r.Data = []byte{}
	}
	return nil
}
