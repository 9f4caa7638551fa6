// Package storekit holds what the stores of this module share: the
// checks and defaults of an append, paging of reads into iterators, and
// the storage form of an envelope's metadata.
package storekit
