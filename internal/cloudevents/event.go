package cloudevents

import (
	"time"

	"github.com/google/uuid"
)

// Event is a CloudEvent as the bus writes and reads it: the core
// attributes, the bus's extension attributes and the data. Encode omits an
// optional attribute that holds its zero value, and Decode leaves the field
// of an absent one at its zero value.
type Event struct {
	// ID is the id attribute when it is the canonical text of a UUID.
	// Otherwise RawID holds the attribute as written, and Decode sets ID
	// to the UUID derived from the source and RawID (see DerivedID).
	ID uuid.UUID
	// RawID, when not empty, is the id attribute as written: any non-empty
	// string. Encode writes it instead of ID.
	RawID string
	// Source is the source attribute: a non-empty URI-reference.
	Source string
	// Type is the type attribute.
	Type string
	// Subject is the subject attribute, optional.
	Subject string
	// DataSchema is the dataschema attribute, optional: a URI.
	DataSchema string
	// Time is the time attribute, optional. Decode returns it in UTC.
	Time time.Time
	// DataContentType is the datacontenttype attribute: the content type
	// of Data, such as "application/json". Decode sets it only when the
	// document has data.
	DataContentType string

	// Sequence is the sequence extension, optional. It is written as a
	// decimal string zero-padded to 20 digits, so that sequences compare as
	// strings in numeric order.
	Sequence uint64
	// CorrelationID is the correlationid extension, optional.
	CorrelationID string
	// CausationID is the causationid extension, optional (uuid.Nil).
	CausationID uuid.UUID
	// PartitionKey is the partitionkey extension, optional.
	PartitionKey string
	// Metadata is the metadata extension, optional: a JSON object of
	// strings, itself carried as a string. Decode returns nil for an empty
	// object.
	Metadata map[string]string
	// TraceParent and TraceState are the traceparent and tracestate
	// attributes of the distributed tracing extension, optional: the W3C
	// Trace Context of the span that published the event. They are carried
	// as they are, without validation.
	TraceParent string
	TraceState  string
	// Extensions are the extension attributes that no field holds, sorted
	// by name.
	Extensions []Extension

	// Data is the payload's bytes. When DataBase64 is false they are JSON
	// text, the value of the data member; otherwise they are carried
	// base64-encoded in data_base64. Decode leaves Data nil when the
	// document has neither member; it also accepts non-JSON content as a
	// JSON string in data, and then returns the string's text in Data.
	Data []byte
	// DataBase64 says whether Data is carried in data_base64.
	DataBase64 bool
}

// Attribute names. The extension names follow the CloudEvents naming rule:
// lowercase ASCII letters and digits, at most 20 characters.
const (
	attrSpecVersion     = "specversion"
	attrID              = "id"
	attrSource          = "source"
	attrType            = "type"
	attrTime            = "time"
	attrDataContentType = "datacontenttype"
	attrData            = "data"
	attrDataBase64      = "data_base64"
	attrSequence        = "sequence"
	attrCorrelationID   = "correlationid"
	attrCausationID     = "causationid"
	attrPartitionKey    = "partitionkey"
	attrMetadata        = "metadata"
	attrTraceParent     = "traceparent"
	attrTraceState      = "tracestate"
	attrSubject         = "subject"
	attrDataSchema      = "dataschema"

	// specVersion is the CloudEvents version of the format.
	specVersion = "1.0"
)
