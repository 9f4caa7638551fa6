// Package bustest makes tests of code built on an eventbus.Bus short and
// deterministic, without sleeps:
//
//   - [WaitIdle] waits until the bus has nothing left to do (every queue
//     empty, no handler running or waiting to retry, whole chains of
//     events handled) and fails the test with what is still busy if that
//     takes longer than [Timeout];
//   - a [Recorder] subscribes to a topic or a pattern and keeps the events
//     it sees, waits for the n-th one or for one that matches, and fails
//     with a readable list of what it got;
//   - [Recorder.Trace] and [Recorder.RequireChain] follow causation IDs
//     from a recorded event to the events its handlers published, and
//     theirs;
//   - fault-injection middleware ([Fail], [Panic], [Delay], [Duplicate]),
//     applied to the calls that a [When] selects: the first attempts of
//     each event, a seeded probability that gives the same choices on
//     every run, or a predicate;
//   - [NewBus], a bus that logs final failures to the test and is closed
//     when the test ends.
//
// Every helper takes a [TB], which *testing.T and *testing.B satisfy.
//
// # Virtual time
//
// The bus works inside a testing/synctest bubble: create the bus inside
// the bubble (NewBus does when called there) and close it before the
// bubble's function returns (NewBus's cleanup does; synctest runs a test's
// cleanups inside the bubble). Then Retry's backoff, Timeout's deadline
// and Delay's wait pass in virtual time, a test of a 10-second backoff
// takes microseconds, and synctest.Wait returns once every handler has
// returned, with the idle workers parked. A bus made outside the bubble
// cannot be used inside it.
//
// # Not the conformance suite
//
// Package eventbustest is for authors of transports: it checks that a
// Transport behaves as the bus needs. This package is for users of the bus
// testing their own handlers.
package bustest
