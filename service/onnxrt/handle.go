package onnxrt

import (
	"runtime"
	"sync"
)

// handle is one ONNX Runtime object and the Go memory pinned for it. It lives apart
// from its owner (a Session, a Value) so that a cleanup can free it when the owner is
// dropped without Close or Release: otherwise the object would leak and, worse, a
// Pinner collected while still pinning makes the Go runtime panic the whole process.
type handle struct {
	rt      *Runtime
	ptr     uintptr
	release fn // the OrtApi Release* for ptr
	pin     runtime.Pinner
	once    sync.Once
}

// own makes h freed when owner is collected, if nothing freed it before.
func own[T any](owner *T, h *handle) {
	runtime.AddCleanup(owner, (*handle).free, h)
}

// free releases the object and unpins its memory, once.
func (h *handle) free() {
	h.once.Do(func() {
		if h.ptr != 0 {
			h.rt.release(h.release, h.ptr)
		}
		h.pin.Unpin()
	})
}
