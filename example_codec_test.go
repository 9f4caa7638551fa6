package eventbus_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/google/uuid"

	"github.com/busline/eventbus"
)

// OrderPlaced is the payload of the "order.placed" topic in the codec
// example.
type OrderPlaced struct {
	OrderID string `json:"orderId"`
	Total   int    `json:"total"`
}

// An event written as a CloudEvents 1.0 JSON document, as a broker
// transport would send it, and read back.
func ExampleEncodeCloudEvent() {
	e := &eventbus.Event[OrderPlaced]{
		Envelope: eventbus.Envelope{
			ID:            uuid.MustParse("0192f3a4-5b6c-7d8e-9f01-23456789abcd"),
			Topic:         "order.placed",
			Time:          time.Date(2025, 3, 14, 15, 9, 26, 500000000, time.UTC),
			Sequence:      42,
			CorrelationID: "req-7",
			Key:           "customer-1",
			Metadata:      map[string]string{"tenant": "acme"},
		},
		Payload: OrderPlaced{OrderID: "o-1001", Total: 4200},
	}

	doc, err := eventbus.EncodeCloudEvent(e, "https://shop.example.com/orders", nil) // nil: JSONCodec
	if err != nil {
		log.Fatal(err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, doc, "", "  "); err != nil {
		log.Fatal(err)
	}
	fmt.Println(indented.String())

	back, err := eventbus.DecodeCloudEvent[OrderPlaced](doc, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Topic, back.Sequence, back.Payload.OrderID, back.Time.Equal(e.Time))
	// Output:
	// {
	//   "specversion": "1.0",
	//   "id": "0192f3a4-5b6c-7d8e-9f01-23456789abcd",
	//   "source": "https://shop.example.com/orders",
	//   "type": "order.placed",
	//   "time": "2025-03-14T15:09:26.5Z",
	//   "datacontenttype": "application/json",
	//   "sequence": "00000000000000000042",
	//   "correlationid": "req-7",
	//   "partitionkey": "customer-1",
	//   "metadata": "{\"tenant\":\"acme\"}",
	//   "data": {
	//     "orderId": "o-1001",
	//     "total": 4200
	//   }
	// }
	// order.placed 42 o-1001 true
}
