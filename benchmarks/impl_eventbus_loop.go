package benchmarks

// eventbusLoopSystem is eventbusSystem seen through System alone: it hides
// the PublishBatch method, so the batch workload publishes its batches with
// one Topic.Publish per event, as it does for the libraries without a
// batch API. It shows in the same run what PublishBatch saves.
type eventbusLoopSystem struct{ System }

func newEventbusLoop(cfg Config) (System, error) {
	sys, err := newEventbus(cfg)
	if err != nil {
		return nil, err
	}
	return eventbusLoopSystem{sys}, nil
}
