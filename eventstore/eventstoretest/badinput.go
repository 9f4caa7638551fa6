package eventstoretest

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/eventstore"
)

// testBadInput checks that invalid stream names, unknown streams, versions
// and positions beyond MaxVersion, payloads that do not encode, invalid
// events and records that do not decode fail with matchable errors, and
// store nothing.
func testBadInput(t *testing.T, s *suite) {
	st, ctx := s.open(t), s.ctx(t)
	one := events(t, 1, 1)

	for _, name := range []string{"", "has space", "tab\there", "ünïcode", "semi;colon", "quote'd", "new\nline", "nul\x00", strings.Repeat("x", eventstore.MaxStreamNameLen+1)} {
		_, err := st.Append(ctx, name, eventstore.AnyVersion(), one...)
		wantIs(t, "Append to stream "+quote(name), err, eventstore.ErrInvalidStream)
		_, err = seqErr(st.ReadStream(ctx, name, 0))
		wantIs(t, "ReadStream of "+quote(name), err, eventstore.ErrInvalidStream)
		_, err = st.StreamVersion(ctx, name)
		wantIs(t, "StreamVersion of "+quote(name), err, eventstore.ErrInvalidStream)
	}
	for _, name := range []string{strings.Repeat("y", eventstore.MaxStreamNameLen), "order:2026/17@eu+x_y-z.q", "A"} {
		mustAppend(t, ctx, st, name, eventstore.NoStream(), one...)
	}
	appended := uint64(3)

	// Unknown streams.
	_, err := seqErr(st.ReadStream(ctx, "unknown-stream", 5))
	wantIs(t, "ReadStream of an unknown stream", err, eventstore.ErrStreamNotFound)
	if v, err := st.StreamVersion(ctx, "unknown-stream"); err != nil || v != 0 {
		t.Errorf("StreamVersion of an unknown stream = %d, %v; want 0, nil", v, err)
	}

	// Versions and positions beyond MaxVersion.
	for _, c := range []struct {
		what     string
		expected eventstore.ExpectedVersion
		count    int
	}{
		{"Exactly(MaxUint64)", eventstore.Exactly(math.MaxUint64), 1},
		{"Exactly(MaxVersion+1)", eventstore.Exactly(eventstore.MaxVersion + 1), 1},
		{"Exactly(MaxVersion) and one more event", eventstore.Exactly(eventstore.MaxVersion), 1},
		{"Exactly(MaxVersion-1) and two more events", eventstore.Exactly(eventstore.MaxVersion - 1), 2},
	} {
		_, err := st.Append(ctx, "A", c.expected, events(t, 1, c.count)...)
		wantIs(t, "Append expecting "+c.what, err, eventstore.ErrVersionOverflow)
	}
	_, err = seqErr(st.ReadStream(ctx, "A", eventstore.MaxVersion+1))
	wantIs(t, "ReadStream from beyond MaxVersion", err, eventstore.ErrVersionOverflow)
	_, err = seqErr(st.ReadAll(ctx, math.MaxUint64))
	wantIs(t, "ReadAll from beyond MaxVersion", err, eventstore.ErrVersionOverflow)
	_, err = st.SubscribeAll(ctx, math.MaxUint64, newRecorder(1).handle)
	wantIs(t, "SubscribeAll from beyond MaxVersion", err, eventstore.ErrVersionOverflow)

	// Payloads that do not encode.
	chans, err := eventstore.NewType[chan int]("suite.channel", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = chans.New(make(chan int))
	wantIs(t, "a channel payload", err, eventstore.ErrEncode)
	var unsupported *json.UnsupportedTypeError
	if !errors.As(err, &unsupported) {
		t.Errorf("the encoding error %v does not carry the codec's *json.UnsupportedTypeError", err)
	}
	failing, err := eventstore.NewType[Payload]("suite.failing", failingCodec{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = failing.New(Payload{N: 1})
	wantIs(t, "a codec that fails", err, eventstore.ErrEncode)
	if !errors.Is(err, errCodec) {
		t.Errorf("the encoding error %v does not carry the codec's error", err)
	}

	// Invalid events.
	_, err = st.Append(ctx, "A", eventstore.AnyVersion())
	wantIs(t, "an append without events", err, eventstore.ErrInvalidEvent)
	badTopic := events(t, 1, 1)[0]
	badTopic.Envelope.Topic = "bad topic"
	_, err = st.Append(ctx, "A", eventstore.AnyVersion(), badTopic)
	wantIs(t, "an event with an invalid topic", err, eventstore.ErrInvalidEvent)
	if !errors.Is(err, eventbus.ErrInvalidTopic) {
		t.Errorf("an event with an invalid topic: %v does not match eventbus.ErrInvalidTopic", err)
	}
	noType := events(t, 1, 1)[0]
	noType.ContentType = ""
	_, err = st.Append(ctx, "A", eventstore.AnyVersion(), noType)
	wantIs(t, "an event without a content type", err, eventstore.ErrInvalidEvent)
	emptyKey := events(t, 1, 1, eventstore.WithMetadata("", "x"))[0]
	_, err = st.Append(ctx, "A", eventstore.AnyVersion(), emptyKey)
	wantIs(t, "an event with an empty metadata key", err, eventstore.ErrInvalidEvent)
	_, err = eventstore.NewType[Payload]("bad..topic", nil)
	wantIs(t, "a type with an invalid topic", err, eventstore.ErrInvalidEvent)

	// Records that do not decode.
	raw := eventstore.Event{Envelope: eventbus.Envelope{Topic: "suite.payload"}, ContentType: "application/json", Data: []byte("not json")}
	other := events(t, 1, 1)[0]
	other.Envelope.Topic = "suite.other"
	res := mustAppend(t, ctx, st, "undecodable", eventstore.NoStream(), raw, other)
	appended += 2
	recs := collect(t, st.ReadStream(ctx, "undecodable", 0))
	typ := payloadType(t)
	_, err = typ.Decode(recs[0])
	wantIs(t, "decoding data that is not JSON", err, eventstore.ErrDecode)
	_, err = typ.Decode(recs[1])
	wantIs(t, "decoding a record of another type", err, eventstore.ErrDecode)
	if typ.Is(recs[1]) || !typ.Is(recs[0]) {
		t.Error("Type.Is does not tell the types apart")
	}
	if res.LastPosition != appended {
		t.Errorf("the last valid append took position %d, want %d", res.LastPosition, appended)
	}
	if head, err := st.Head(ctx); err != nil || head != appended {
		t.Errorf("Head = %d, %v: the refused appends stored something (want %d)", head, err, appended)
	}
}

// errCodec is failingCodec's error.
var errCodec = errors.New("codec refuses")

// failingCodec is a codec that encodes nothing.
type failingCodec struct{}

func (failingCodec) ContentType() string         { return "application/x-failing" }
func (failingCodec) Marshal(any) ([]byte, error) { return nil, errCodec }
func (failingCodec) Unmarshal([]byte, any) error { return errCodec }

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
