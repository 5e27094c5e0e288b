package onnxrt

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"github.com/ebitengine/purego"
)

// SessionOptions configure a Session.
type SessionOptions struct {
	// IntraOpThreads is how many threads one Run spreads its kernels over (ONNX Runtime's
	// intra-op pool, the calling thread included). It must be at least 1: ONNX Runtime's
	// own default counts the machine's cores, not the share a container or function gets.
	IntraOpThreads int
	// Config holds session configuration entries (AddSessionConfigEntry), such as
	// "session.intra_op.allow_spinning": "0".
	Config map[string]string
}

// TensorInfo describes one input or output of a model.
type TensorInfo struct {
	Name string
	Type ElementType
	Dims []int64 // -1 for a dynamic dimension
}

// ElementType is an ONNXTensorElementDataType.
type ElementType int32

// Float is ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, the only type NewTensor makes.
const Float ElementType = elementTypeFloat

func (t ElementType) String() string {
	if t == Float {
		return "float32"
	}
	return fmt.Sprintf("ONNXTensorElementDataType(%d)", int32(t))
}

// Session is a model loaded into ONNX Runtime. Run is safe to call from several
// goroutines at once (ONNX Runtime's Session::Run is thread-safe; each call brings its
// own tensors and run options); Close must come after every Run has returned. A Session
// dropped without Close is released when it is collected.
type Session struct {
	rt      *Runtime
	h       *handle // the OrtSession* and the pinned names
	threads int

	inputs, outputs []TensorInfo

	// The names as C strings, handed to every Run: built once. Run passes arrays of
	// pointers to them, Go memory that holds Go pointers, which C may read only if the
	// strings are pinned: they are, for the session's life.
	inNames, outNames []*byte
}

// NewSession loads a model from its ONNX bytes. Inter-op threads are 1 and execution is
// sequential: parallel execution of independent nodes only pays for graphs with wide
// branches, and YOLOX is a chain; the idle inter-op pool would only add threads.
func (r *Runtime) NewSession(model []byte, opt SessionOptions) (*Session, error) {
	if len(model) == 0 {
		return nil, errors.New("onnxruntime: empty model")
	}
	if opt.IntraOpThreads < 1 {
		return nil, fmt.Errorf("onnxruntime: %d intra-op threads, want at least 1", opt.IntraOpThreads)
	}
	var so uintptr // OrtSessionOptions*
	if err := r.call(fnCreateSessionOptions, uintptr(unsafe.Pointer(&so))); err != nil {
		return nil, err
	}
	defer r.release(fnReleaseSessionOptions, so)
	if err := r.call(fnSetIntraOpNumThreads, so, uintptr(opt.IntraOpThreads)); err != nil {
		return nil, err
	}
	if err := r.call(fnSetInterOpNumThreads, so, 1); err != nil {
		return nil, err
	}
	if err := r.call(fnSetSessionExecutionMode, so, executionSequential); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(opt.Config))
	for k := range opt.Config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ck, cv := cString(k), cString(opt.Config[k])
		if err := r.call(fnAddSessionConfigEntry, so, uintptr(unsafe.Pointer(&ck[0])), uintptr(unsafe.Pointer(&cv[0]))); err != nil {
			return nil, fmt.Errorf("session config %s=%s: %w", k, opt.Config[k], err)
		}
	}

	s := &Session{rt: r, h: &handle{rt: r, release: fnReleaseSession}, threads: opt.IntraOpThreads}
	if err := r.call(fnCreateSessionFromArray, r.env, uintptr(unsafe.Pointer(&model[0])), uintptr(len(model)), so,
		uintptr(unsafe.Pointer(&s.h.ptr))); err != nil {
		return nil, err
	}
	own(s, s.h)
	var err error
	if s.inputs, err = r.tensorInfos(s.h.ptr, fnSessionGetInputCount, fnSessionGetInputName, fnSessionGetInputTypeInfo); err == nil {
		s.outputs, err = r.tensorInfos(s.h.ptr, fnSessionGetOutputCount, fnSessionGetOutputName, fnSessionGetOutputTypeInfo)
	}
	if err != nil {
		s.h.free()
		return nil, err
	}
	s.inNames, s.outNames = s.cNames(s.inputs), s.cNames(s.outputs)
	return s, nil
}

// cNames builds and pins the C strings of the names.
func (s *Session) cNames(infos []TensorInfo) []*byte {
	names := make([]*byte, len(infos))
	for i, info := range infos {
		names[i] = &cString(info.Name)[0]
		s.h.pin.Pin(names[i])
	}
	return names
}

// tensorInfos reads the names, element types and shapes of a session's inputs (or
// outputs: the entries given say which).
func (r *Runtime) tensorInfos(session uintptr, count, name, typeInfo fn) ([]TensorInfo, error) {
	var n uintptr
	if err := r.call(count, session, uintptr(unsafe.Pointer(&n))); err != nil {
		return nil, err
	}
	infos := make([]TensorInfo, n)
	for i := range infos {
		var cName uintptr
		if err := r.call(name, session, uintptr(i), r.alloc, uintptr(unsafe.Pointer(&cName))); err != nil {
			return nil, err
		}
		infos[i].Name = goString(cName)
		if err := r.call(fnAllocatorFree, r.alloc, cName); err != nil {
			return nil, err
		}
		var ti uintptr // OrtTypeInfo*
		if err := r.call(typeInfo, session, uintptr(i), uintptr(unsafe.Pointer(&ti))); err != nil {
			return nil, err
		}
		err := r.tensorInfo(ti, &infos[i])
		r.release(fnReleaseTypeInfo, ti)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", typeInfo.name, infos[i].Name, err)
		}
	}
	return infos, nil
}

// tensorInfo reads the element type and shape out of an OrtTypeInfo.
func (r *Runtime) tensorInfo(ti uintptr, info *TensorInfo) error {
	var tensor uintptr // OrtTensorTypeAndShapeInfo*, owned by ti
	if err := r.call(fnCastTypeInfoToTensorInfo, ti, uintptr(unsafe.Pointer(&tensor))); err != nil {
		return err
	}
	if tensor == 0 {
		return errors.New("not a tensor")
	}
	if err := r.call(fnGetTensorElementType, tensor, uintptr(unsafe.Pointer(&info.Type))); err != nil {
		return err
	}
	var rank uintptr
	if err := r.call(fnGetDimensionsCount, tensor, uintptr(unsafe.Pointer(&rank))); err != nil {
		return err
	}
	info.Dims = make([]int64, rank)
	if rank == 0 {
		return nil
	}
	return r.call(fnGetDimensions, tensor, uintptr(unsafe.Pointer(&info.Dims[0])), rank)
}

// Inputs describes the model's inputs, in order.
func (s *Session) Inputs() []TensorInfo { return s.inputs }

// Outputs describes the model's outputs, in order.
func (s *Session) Outputs() []TensorInfo { return s.outputs }

// IntraOpThreads is the intra-op thread count the session was created with.
func (s *Session) IntraOpThreads() int { return s.threads }

// Run runs the model on inputs (one per model input, in order) into outputs (one per
// model output, tensors of the right shape, written in place). A cancelled ctx stops the
// run between kernels, and Run then returns ctx's error.
func (s *Session) Run(ctx context.Context, inputs, outputs []*Value) error {
	if len(inputs) != len(s.inputs) || len(outputs) != len(s.outputs) {
		return fmt.Errorf("onnxruntime run: %d inputs and %d outputs, the model has %d and %d",
			len(inputs), len(outputs), len(s.inputs), len(s.outputs))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ins, outs := make([]uintptr, len(inputs)), make([]uintptr, len(outputs))
	for i, v := range inputs {
		ins[i] = v.h.ptr
	}
	for i, v := range outputs {
		outs[i] = v.h.ptr
	}
	r := s.rt
	var ro uintptr // OrtRunOptions*
	if err := r.call(fnCreateRunOptions, uintptr(unsafe.Pointer(&ro))); err != nil {
		return err
	}
	terminated := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(terminated)
		st, _, _ := purego.SyscallN(r.api[fnRunOptionsSetTerminate.index], ro)
		_ = r.statusError(fnRunOptionsSetTerminate.name, st) // cannot fail for valid options; released
	})
	err := r.call(fnRun, s.h.ptr, ro,
		uintptr(unsafe.Pointer(&s.inNames[0])), uintptr(unsafe.Pointer(&ins[0])), uintptr(len(ins)),
		uintptr(unsafe.Pointer(&s.outNames[0])), uintptr(len(outs)), uintptr(unsafe.Pointer(&outs[0])))
	if !stop() {
		// The terminate call has started, or ended: it must end before the options go.
		<-terminated
	}
	r.release(fnReleaseRunOptions, ro)
	runtime.KeepAlive(inputs)
	runtime.KeepAlive(outputs)
	runtime.KeepAlive(s) // its cleanup must not release the session during the run
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return nil
}

// Close releases the session; later calls do nothing.
func (s *Session) Close() error {
	s.h.free()
	return nil
}
