// Package interop holds the tests that check the bus against other
// CloudEvents implementations: the official Go SDK
// (github.com/cloudevents/sdk-go/v2) reads and validates what the bus
// writes, and the bus reads, handles, dead-letters and republishes what the
// SDK writes, in structured and binary content mode, with every attribute
// intact. It is a module of its own so that the core module does not
// depend on the SDK.
package interop
