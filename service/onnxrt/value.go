package onnxrt

import (
	"fmt"
	"unsafe"
)

// Value is an ONNX Runtime tensor over a caller's float32 slice: no copy, ONNX Runtime
// reads and writes the slice itself.
type Value struct {
	h    *handle   // the OrtValue* and the pinned slice
	data []float32 // kept referenced (and pinned) while C holds its address
}

// NewTensor wraps data as a float32 tensor of the given shape, whose element count must
// be len(data). The slice stays pinned until Release (or, for a Value dropped without
// it, until it is collected).
func (r *Runtime) NewTensor(data []float32, shape ...int64) (*Value, error) {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	if len(shape) == 0 || n != int64(len(data)) || len(data) == 0 {
		return nil, fmt.Errorf("onnxruntime tensor: shape %v over %d values", shape, len(data))
	}
	v := &Value{h: &handle{rt: r, release: fnReleaseValue}, data: data}
	// Go's heap does not move objects today, but C keeps this address beyond the call:
	// pinning states that and keeps it true.
	v.h.pin.Pin(&data[0])
	err := r.call(fnCreateTensorWithDataAsOrtValue, r.cpu, uintptr(unsafe.Pointer(&data[0])),
		uintptr(len(data))*unsafe.Sizeof(data[0]), uintptr(unsafe.Pointer(&shape[0])), uintptr(len(shape)),
		elementTypeFloat, uintptr(unsafe.Pointer(&v.h.ptr)))
	if err != nil {
		v.h.free()
		return nil, err
	}
	own(v, v.h)
	return v, nil
}

// Release frees the tensor (not the slice, which is the caller's); later calls do
// nothing.
func (v *Value) Release() {
	v.h.free()
	v.data = nil
}
