// Package allocs measures heap allocation, for the fuzz targets that check a
// decoder's memory follows the bytes it is given, not the sizes those bytes
// declare.
package allocs

import "runtime"

// Bytes returns how many bytes were allocated on the heap while f ran. The counts
// are exact (runtime.ReadMemStats stops the world briefly, a few microseconds
// with a small heap) but process-wide: call it only while nothing else allocates
// much, as in a fuzz target run with -parallel 1 or its seeds under go test.
func Bytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
