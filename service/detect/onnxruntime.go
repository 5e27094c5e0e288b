package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/servebench/servebench/service/onnxrt"
)

// ortNet runs the model in one ONNX Runtime session. Session.Run is safe to call from
// several goroutines; each call brings its own input and output tensors, wrapped around
// the caller's buffers without copying.
type ortNet struct {
	rt      *onnxrt.Runtime
	session *onnxrt.Session
}

func newONNXRuntime(ctx context.Context, model []byte, opt LoadOptions) (Detector, error) {
	rt, err := loadONNXRuntime(opt)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	threads := opt.threads()
	session, err := rt.NewSession(model, onnxrt.SessionOptions{
		IntraOpThreads: threads,
		// Spinning of idle worker threads off. Spinning wins a little on an idle machine and
		// loses a lot when cores are shared (other processes, container CPU limits).
		// dog.jpg on 2 cores, median per image, one call at a time: idle, 24 ms without
		// spinning against 22 ms with it; under load (other jobs running), 48 ms against
		// 87 ms, and with four concurrent calls 35 ms against 53 ms.
		Config: map[string]string{"session.intra_op.allow_spinning": "0"},
	})
	if err != nil {
		if onnxrt.IsCode(err, onnxrt.InvalidProtobuf) {
			return nil, fmt.Errorf("%w: not a valid ONNX file: %v", ErrInvalidModel, err)
		}
		return nil, fmt.Errorf("%w: ONNX Runtime cannot load it: %v", ErrInvalidModel, err)
	}
	if err := checkSession(session); err != nil {
		return nil, errors.Join(err, session.Close())
	}
	slog.DebugContext(ctx, "onnxruntime session ready", "library", rt.Path(), "version", rt.Version(), "threads", threads)
	return newDetector(BackendONNXRuntime, &ortNet{rt: rt, session: session}), nil
}

// checkSession verifies the session's inputs and outputs are YOLOX-nano's float tensors.
func checkSession(s *onnxrt.Session) error {
	ins, outs := s.Inputs(), s.Outputs()
	if err := checkShapes(ortDims(ins), ortDims(outs)); err != nil {
		return err
	}
	if ins[0].Type != onnxrt.Float || outs[0].Type != onnxrt.Float {
		return fmt.Errorf("%w: input %s and output %s, want float32 tensors", ErrInvalidModel, ins[0].Type, outs[0].Type)
	}
	return nil
}

func ortDims(infos []onnxrt.TensorInfo) [][]int64 {
	dims := make([][]int64, len(infos))
	for i, info := range infos {
		dims[i] = info.Dims
	}
	return dims
}

func (n *ortNet) run(ctx context.Context, in, out []float32) error {
	input, err := n.rt.NewTensor(in, inputShape...)
	if err != nil {
		return fmt.Errorf("onnxruntime input tensor: %w", err)
	}
	defer input.Release()
	output, err := n.rt.NewTensor(out, outputShape...)
	if err != nil {
		return fmt.Errorf("onnxruntime output tensor: %w", err)
	}
	defer output.Release()
	// A cancelled context stops the run between kernels instead of letting it finish.
	return n.session.Run(ctx, []*onnxrt.Value{input}, []*onnxrt.Value{output})
}

func (n *ortNet) threads() int { return n.session.IntraOpThreads() }

func (n *ortNet) close() error {
	return n.session.Close()
}
