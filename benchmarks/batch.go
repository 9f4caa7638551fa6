package benchmarks

// BatchPublisher is implemented by a System whose library can publish many
// events of one topic in one call.
type BatchPublisher interface {
	// PublishBatch publishes one event per payload of ps on topic t, in the
	// order of ps. It does not keep ps after it returns, so the caller may
	// reuse it for the next batch.
	PublishBatch(t int, ps []Payload) error
}

// AsBatchPublisher returns sys itself when it is a BatchPublisher, and
// otherwise a BatchPublisher whose PublishBatch calls sys.Publish once per
// payload, in order, and stops at the first error. The choice is made once,
// here, so that a workload publishing batches pays for no type assertion
// per batch.
func AsBatchPublisher(sys System) BatchPublisher {
	if bp, ok := sys.(BatchPublisher); ok {
		return bp
	}
	return publishLoop{sys}
}

// publishLoop publishes a batch as one Publish per event, which is what an
// application does with a library that has no batch API.
type publishLoop struct{ sys System }

func (l publishLoop) PublishBatch(t int, ps []Payload) error {
	for _, p := range ps {
		if err := l.sys.Publish(t, p); err != nil {
			return err
		}
	}
	return nil
}
