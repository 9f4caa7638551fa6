// Package delivery is the engine behind the eventbus package: the bounded
// queues of the subscriptions, the ring of events each topic shares among
// its default subscriptions, and the worker goroutines that drain them.
//
// The root package owns the events and the handlers; this package moves
// opaque items of type T from publishers to workers and calls back into
// the root for the rest:
//
//   - A Ring is a topic's delivery lists. Ring.Publish writes an item once
//     for the topic's ring readers and returns the queues to offer it to.
//   - A Queue is one subscription's queue: one Lane per worker. Publishers
//     offer items to a lane (Lane.Offer, Lane.OfferWait, or for a ring
//     reader Lane.ReaderRoom and Lane.WaitRing), the lane's worker hands
//     them to the Queue's deliver callback one at a time, and Queue.Close
//     stops it, letting the workers finish or discarding what is queued.
//     Queue.Current tells which item a lane's worker is at, so that the
//     worker need not publish it per item.
//   - Workers owns every worker goroutine of a bus, and the timers that
//     retire idle ones: Workers.Wait returns once they have all ended.
//
// A lane has at most one worker, started by the first item it gets; the
// worker parks when the lane runs empty, is woken by the next item, and
// exits when its lane closes and empties, or after about IdleTick without
// items. No callback into the root runs with a lock of this package held.
package delivery
