module github.com/busline/eventbus/benchmarks

go 1.26

replace github.com/busline/eventbus => ../

require (
	github.com/ThreeDotsLabs/watermill v1.5.1
	github.com/asaskevich/EventBus v0.0.0-20200907212545-49d423059eef
	github.com/busline/eventbus v0.0.0-00010101000000-000000000000
	github.com/kelindar/event v1.5.2
	github.com/leandro-lugaresi/hub v1.1.2
	github.com/mustafaturan/bus/v3 v3.0.3
	go.uber.org/goleak v1.3.0
)

require (
	github.com/google/uuid v1.6.0
	github.com/lithammer/shortuuid/v3 v3.0.7 // indirect
	github.com/oklog/ulid v1.3.1 // indirect
	github.com/pkg/errors v0.9.1 // indirect
)
