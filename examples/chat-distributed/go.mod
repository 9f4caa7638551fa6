module github.com/busline/eventbus/examples/chat-distributed

go 1.26.0

replace (
	github.com/busline/eventbus => ../..
	github.com/busline/eventbus/transport/kafka => ../../transport/kafka
	github.com/busline/eventbus/transport/nats => ../../transport/nats
	github.com/busline/eventbus/transport/rabbitmq => ../../transport/rabbitmq
	github.com/busline/eventbus/transport/redis => ../../transport/redis
)

require (
	github.com/busline/eventbus v0.0.0-00010101000000-000000000000
	github.com/busline/eventbus/transport/kafka v0.0.0-00010101000000-000000000000
	github.com/busline/eventbus/transport/nats v0.0.0-00010101000000-000000000000
	github.com/busline/eventbus/transport/rabbitmq v0.0.0-00010101000000-000000000000
	github.com/busline/eventbus/transport/redis v0.0.0-00010101000000-000000000000
	github.com/nats-io/nats-server/v2 v2.15.2
	github.com/twmb/franz-go/pkg/kfake v0.0.0-20260918054303-01f206a7e32c
	go.uber.org/goleak v1.3.0
)

require (
	github.com/antithesishq/antithesis-sdk-go v0.8.0-default-no-op // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nats-io/jwt/v2 v2.8.2 // indirect
	github.com/nats-io/nats.go v1.55.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	github.com/rabbitmq/amqp091-go v1.16.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	github.com/twmb/franz-go v1.22.3 // indirect
	github.com/twmb/franz-go/pkg/kadm v1.20.0 // indirect
	github.com/twmb/franz-go/pkg/kmsg v1.15.1 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)
