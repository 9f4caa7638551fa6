package rabbitmq

import (
	"fmt"
	"os"
	"testing"

	"github.com/busline/eventbus/transport/rabbitmq/rabbitmqtest"
	"go.uber.org/goleak"
)

// testNode is the RabbitMQ node of the test binary, started by TestMain:
// RabbitMQ starts too slowly for a node per test.
var testNode *rabbitmqtest.Node

func TestMain(m *testing.M) {
	n, err := rabbitmqtest.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "eventbus/rabbitmq tests: starting a RabbitMQ node: %v\n", err)
		os.Exit(1)
	}
	testNode = n
	goleak.VerifyTestMain(withNode{m, n})
}

// withNode stops the node once the tests have run, before goleak looks
// for goroutines left behind.
type withNode struct {
	m *testing.M
	n *rabbitmqtest.Node
}

func (w withNode) Run() int {
	code := w.m.Run()
	if err := w.n.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "eventbus/rabbitmq tests: stopping the RabbitMQ node: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
