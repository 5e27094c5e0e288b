// Package turbojpeg decodes and encodes JPEG with libjpeg-turbo's TurboJPEG API
// (libturbojpeg.so.0), loaded at run time through purego, so the service needs no cgo.
// It calls the 2.x API (tjInitDecompress, tjDecompressHeader3, tjDecompress2,
// tjInitCompress, tjCompress2, …), present in every libturbojpeg.so.0 since 2.0
// (Debian bookworm ships 2.1.5), not the 3.0 tj3* API.
//
// Decoding keeps libjpeg's defaults, the ones cv2.imread runs with: the accurate integer
// IDCT and smooth ("fancy") chroma upsampling, so the pixels are those the reference
// detections of DESIGN.md were computed from.
package turbojpeg

import (
	"errors"
	"fmt"
	"image"
	"io"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/servebench/servebench/service/nativelib"
)

// Env names the environment variable that holds the path of libturbojpeg.so.0.
const Env = "SERVEBENCH_TURBOJPEG_LIB"

// Library is where the service looks for libturbojpeg.so.0: Env when set, else the
// container images' copy, the usual system places, and scripts/setup-turbojpeg's cache.
var Library = nativelib.Library{
	Name: "libturbojpeg.so.0",
	Env:  Env,
	Candidates: nativelib.WithCache(nativelib.CacheDir(), cacheDir, "libturbojpeg.so.0",
		"/opt/turbojpeg/lib/libturbojpeg.so.0",
		"/usr/lib/x86_64-linux-gnu/libturbojpeg.so.0",
		"/usr/lib64/libturbojpeg.so.0",
		"/usr/lib/libturbojpeg.so.0"),
	Setup: "scripts/setup-turbojpeg",
}

// cacheDir is where scripts/setup-turbojpeg puts the library under nativelib.CacheDir().
const cacheDir = "turbojpeg-2.1.5"

// Constants of turbojpeg.h (2.1.5; the 2.x values hold in 3.x too).
const (
	pfRGBA = 7 // TJPF_RGBA: R, G, B, A bytes; decoding sets A to 0xFF

	samp420 = 2 // TJSAMP_420

	flagAccurateDCT   = 4096  // TJFLAG_ACCURATEDCT: the integer (I)DCT, libjpeg's default
	flagStopOnWarning = 8192  // TJFLAG_STOPONWARNING: a corrupt stream stops at once
	flagLimitScans    = 32768 // TJFLAG_LIMITSCANS: refuse progressive JPEGs of over 500 scans

	errWarning = 0 // TJERR_WARNING
)

// Colorspace is the colour space of a JPEG's data (TJCS_*).
type Colorspace int

const (
	RGB   Colorspace = 0 // TJCS_RGB
	YCbCr Colorspace = 1 // TJCS_YCbCr
	Gray  Colorspace = 2 // TJCS_GRAY
	CMYK  Colorspace = 3 // TJCS_CMYK
	YCCK  Colorspace = 4 // TJCS_YCCK
)

func (c Colorspace) String() string {
	if n := [...]string{"RGB", "YCbCr", "gray", "CMYK", "YCCK"}; c >= 0 && int(c) < len(n) {
		return n[c]
	}
	return fmt.Sprintf("colorspace %d", int(c))
}

// Header is what a JPEG's header says, read without decoding any pixels.
type Header struct {
	Width, Height int
	Colorspace    Colorspace
}

// Error is a failure reported by the library. Warning is set for a non-fatal error
// (TJERR_WARNING: corrupt data that libjpeg could have decoded past, a truncated file),
// which the codec treats as an error all the same.
type Error struct {
	Op      string // the TurboJPEG function
	Message string // tjGetErrorStr2
	Warning bool
}

func (e *Error) Error() string {
	kind := "error"
	if e.Warning {
		kind = "warning"
	}
	return fmt.Sprintf("%s: %s (libjpeg-turbo %s)", e.Op, e.Message, kind)
}

// functions are the library's entry points the codec calls. The C types: tjhandle is a
// pointer, int is int32, unsigned long is 64 bits on the LP64 platforms purego loads
// libraries on.
type functions struct {
	initDecompress   func() uintptr
	decompressHeader func(h uintptr, jpeg []byte, size uint64, width, height, subsamp, colorspace *int32) int32
	decompress       func(h uintptr, jpeg []byte, size uint64, dst []byte, width, pitch, height, pixelFormat, flags int32) int32
	initCompress     func() uintptr
	compress         func(h uintptr, src []byte, width, pitch, height, pixelFormat int32, jpeg **byte, size *uint64, subsamp, quality, flags int32) int32
	errorStr         func(h uintptr) string
	errorCode        func(h uintptr) int32
	destroy          func(h uintptr) int32
	free             func(buf *byte)
}

// Codec is a loaded libturbojpeg. It is safe for concurrent use: a TurboJPEG handle is
// not, so each call takes one from a pool.
type Codec struct {
	path string
	fn   functions

	decoders pool[uintptr]
	encoders pool[*encoder]
}

// encoder is a compressor handle and the output buffer it reuses: tjCompress2 grows a
// buffer it was given (allocated by the library) rather than allocating one per call.
type encoder struct {
	h   uintptr
	buf *byte // C memory, owned by this encoder; nil until the first call
	// size is what the last call wrote. The library needs it non-zero with a reused
	// buffer: given a buffer and size 0 it would allocate another and lose the first.
	size uint64
}

// Open loads the library lib describes (normally Library) and looks up every function the
// codec calls, so a library without them fails here rather than at the first image.
func Open(lib nativelib.Library) (*Codec, error) {
	h, path, err := lib.Open()
	if err != nil {
		return nil, err
	}
	c := &Codec{path: path}
	for _, f := range []struct {
		name string
		ptr  any
	}{
		{"tjInitDecompress", &c.fn.initDecompress},
		{"tjDecompressHeader3", &c.fn.decompressHeader},
		{"tjDecompress2", &c.fn.decompress},
		{"tjInitCompress", &c.fn.initCompress},
		{"tjCompress2", &c.fn.compress},
		{"tjGetErrorStr2", &c.fn.errorStr},
		{"tjGetErrorCode", &c.fn.errorCode},
		{"tjDestroy", &c.fn.destroy},
		{"tjFree", &c.fn.free},
	} {
		sym, err := purego.Dlsym(h, f.name)
		if err != nil {
			return nil, fmt.Errorf("%s from %s has no %s (TurboJPEG 2.0 or later is needed; set %s to another copy, or run %s): %w",
				lib.Name, path, f.name, lib.Env, lib.Setup, err)
		}
		purego.RegisterFunc(f.ptr, sym)
	}
	c.decoders = newPool(c.newDecoder, c.destroyDecoder)
	c.encoders = newPool(c.newEncoder, c.destroyEncoder)
	return c, nil
}

// Path is the file the library was loaded from.
func (c *Codec) Path() string { return c.path }

// Close releases the handles the codec keeps; it waits for none, and a handle in use is
// released when its call returns.
func (c *Codec) Close() error {
	return errors.Join(c.decoders.close(), c.encoders.close())
}

// call runs f, which calls the library with handle h and returns its status, and turns a
// failure into an *Error. The goroutine stays on one OS thread throughout: the library
// keeps the message of a libjpeg error in thread-local storage, which another thread
// would read as some other call's message.
func (c *Codec) call(op string, h uintptr, f func() int32) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if f() == 0 {
		return nil
	}
	// The library's own checks start the message with the function's name; libjpeg's
	// messages do not.
	msg := strings.TrimPrefix(c.fn.errorStr(h), op+"(): ")
	return &Error{Op: op, Message: msg, Warning: c.fn.errorCode(h) == errWarning}
}

// Header reads the JPEG's header only, for the caller's limits to be checked before any
// pixel memory is allocated.
func (c *Codec) Header(jpeg []byte) (_ Header, err error) {
	if len(jpeg) == 0 {
		return Header{}, &Error{Op: "tjDecompressHeader3", Message: "no data"}
	}
	h, err := c.decoders.get()
	if err != nil {
		return Header{}, err
	}
	defer func() { c.decoders.putUnlessFailed(h, err) }()
	var w, ht, subsamp, cs int32
	err = c.call("tjDecompressHeader3", h, func() int32 {
		return c.fn.decompressHeader(h, jpeg, uint64(len(jpeg)), &w, &ht, &subsamp, &cs)
	})
	if err != nil {
		return Header{}, err
	}
	if w <= 0 || ht <= 0 {
		// A tables-only stream succeeds without an image; the sizes stay 0.
		return Header{}, &Error{Op: "tjDecompressHeader3", Message: fmt.Sprintf("no image in the stream (%d×%d)", w, ht)}
	}
	return Header{Width: int(w), Height: int(ht), Colorspace: Colorspace(cs)}, nil
}

// DecodeRGBA decodes jpeg into dst, whose size must be the header's. Gray and RGB
// JPEGs decode too (gray repeated into R, G and B); CMYK and YCCK ones are an error: the
// library does not convert them to RGB.
func (c *Codec) DecodeRGBA(jpeg []byte, dst *image.RGBA) (err error) {
	b := dst.Bounds()
	// The rows of dst as the library writes them: from its first pixel, Stride apart.
	pix := dst.Pix[dst.PixOffset(b.Min.X, b.Min.Y):]
	if need := (b.Dy()-1)*dst.Stride + 4*b.Dx(); b.Empty() || len(pix) < need {
		return fmt.Errorf("tjDecompress2: destination %v of %d bytes", b, len(pix))
	}
	h, err := c.Header(jpeg)
	if err != nil {
		return err
	}
	// Given a smaller size, tjDecompress2 would scale the image down to fit, silently.
	if h.Width != b.Dx() || h.Height != b.Dy() {
		return fmt.Errorf("tjDecompress2: the JPEG is %d×%d, the destination %v", h.Width, h.Height, b)
	}
	d, err := c.decoders.get()
	if err != nil {
		return err
	}
	defer func() { c.decoders.putUnlessFailed(d, err) }()
	return c.call("tjDecompress2", d, func() int32 {
		return c.fn.decompress(d, jpeg, uint64(len(jpeg)), pix, int32(b.Dx()), int32(dst.Stride), int32(b.Dy()), pfRGBA,
			flagAccurateDCT|flagStopOnWarning|flagLimitScans)
	})
}

// EncodeRGBA compresses src (its alpha ignored) as a baseline JPEG with 4:2:0 chroma at
// quality (1–100) and writes it to w. It uses the accurate integer DCT: the library's
// default for compression below quality 96 is the fast one, coarser than what
// image/jpeg writes. w gets the library's own buffer (no copy); an io.Writer does not
// keep what it is given.
func (c *Codec) EncodeRGBA(w io.Writer, src *image.RGBA, quality int) (err error) {
	b := src.Bounds()
	if b.Empty() || quality < 1 || quality > 100 {
		return &Error{Op: "tjCompress2", Message: fmt.Sprintf("nothing to encode: %v at quality %d", b, quality)}
	}
	pix := src.Pix[src.PixOffset(b.Min.X, b.Min.Y):]
	if need := (b.Dy()-1)*src.Stride + 4*b.Dx(); len(pix) < need {
		return fmt.Errorf("tjCompress2: source of %d bytes, %v needs %d", len(pix), b, need)
	}
	e, err := c.encoders.get()
	if err != nil {
		return err
	}
	defer func() { c.encoders.putUnlessFailed(e, err) }()
	if e.buf != nil && e.size == 0 { // see encoder.size
		c.fn.free(e.buf)
		e.buf = nil
	}
	err = c.call("tjCompress2", e.h, func() int32 {
		return c.fn.compress(e.h, pix, int32(b.Dx()), int32(src.Stride), int32(b.Dy()), pfRGBA,
			&e.buf, &e.size, samp420, int32(quality), flagAccurateDCT)
	})
	if err != nil {
		return err
	}
	_, err = w.Write(unsafe.Slice(e.buf, e.size))
	return err
}

func (c *Codec) newDecoder() (uintptr, error) {
	return c.newHandle("tjInitDecompress", c.fn.initDecompress)
}

func (c *Codec) newEncoder() (*encoder, error) {
	h, err := c.newHandle("tjInitCompress", c.fn.initCompress)
	if err != nil {
		return nil, err
	}
	return &encoder{h: h}, nil
}

func (c *Codec) newHandle(op string, init func() uintptr) (uintptr, error) {
	var h uintptr
	err := c.call(op, 0, func() int32 {
		if h = init(); h == 0 {
			return -1
		}
		return 0
	})
	return h, err
}

func (c *Codec) destroyDecoder(h uintptr) error {
	return c.call("tjDestroy", 0, func() int32 { return c.fn.destroy(h) })
}

func (c *Codec) destroyEncoder(e *encoder) error {
	err := c.destroyDecoder(e.h)
	if e.buf != nil {
		c.fn.free(e.buf)
		e.buf = nil
	}
	return err
}

// pool keeps idle handles for reuse: creating one allocates libjpeg's state, and a
// sync.Pool would drop handles without releasing them. At most maxIdle stay idle; the
// rest are released as they come back.
type pool[T any] struct {
	mu      sync.Mutex
	idle    []T
	closed  bool
	newT    func() (T, error)
	destroy func(T) error
}

func newPool[T any](newT func() (T, error), destroy func(T) error) pool[T] {
	return pool[T]{newT: newT, destroy: destroy}
}

func maxIdle() int { return 2 * runtime.GOMAXPROCS(0) }

func (p *pool[T]) get() (T, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		t := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return t, nil
	}
	p.mu.Unlock()
	return p.newT()
}

func (p *pool[T]) put(t T) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < maxIdle() {
		p.idle = append(p.idle, t)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	_ = p.destroy(t) // tjDestroy fails only for a null handle, which the pool never holds
}

// putUnlessFailed puts t back after a call that succeeded, and releases it after one
// that failed: the library can leave a handle in a state its next call refuses
// (tjDecompressHeader3 does not abort the decompressor when a header is bad, and the
// next header read on that handle fails too).
func (p *pool[T]) putUnlessFailed(t T, err error) {
	if err != nil {
		_ = p.destroy(t)
		return
	}
	p.put(t)
}

func (p *pool[T]) close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	var errs []error
	for _, t := range idle {
		errs = append(errs, p.destroy(t))
	}
	return errors.Join(errs...)
}
