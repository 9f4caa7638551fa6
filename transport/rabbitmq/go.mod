module github.com/busline/eventbus/transport/rabbitmq

go 1.26.0

replace github.com/busline/eventbus => ../..

require (
	github.com/busline/eventbus v0.0.0-00010101000000-000000000000
	github.com/google/uuid v1.6.0
	github.com/rabbitmq/amqp091-go v1.16.0
	go.uber.org/goleak v1.3.0
)
