package detect

import (
	"context"
	"fmt"
	"runtime"
	"strconv"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/onnx-gomlx/onnx/parser"
)

// gomlxNet runs the ONNX graph converted to GoMLX on the pure Go backend: no cgo, so it
// builds anywhere (Cloud Functions source deploys), at about 100× the cost of ONNX Runtime.
type gomlxNet struct {
	backend compute.Backend
	exec    *model.Exec

	// The executable is safe for concurrent runs (each has its own buffers; the backend
	// spreads a lone run over the cores and runs concurrent ones op by op). Overlapping
	// runs raise throughput (dog.jpg on 2 cores: 1.1–1.3 s per image one at a time,
	// 0.9–1.0 s two at a time, barely better four at a time), so up to one run per thread
	// goes ahead and the rest wait here, which bounds the memory of intermediate tensors.
	slots chan struct{}
}

func newGoMLX(ctx context.Context, onnxModel []byte, opt LoadOptions) (Detector, error) {
	m, err := parser.Parse(onnxModel)
	if err != nil {
		return nil, fmt.Errorf("%w: not a valid ONNX file: %v", ErrInvalidModel, err)
	}
	inNames, inShapes := m.Inputs()
	outNames, outShapes := m.Outputs()
	if err := checkShapes(gomlxDims(inShapes), gomlxDims(outShapes)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// The backend's worker pool never runs more than GOMAXPROCS workers; fewer threads,
	// when asked for, set its parallelism (the backend prints a line to stdout then).
	threads := min(opt.threads(), runtime.GOMAXPROCS(0))
	config := goBackendConfig
	if threads < runtime.GOMAXPROCS(0) {
		config += ",parallelism=" + strconv.Itoa(threads)
	}
	backend, err := gobackend.New(config)
	if err != nil {
		return nil, fmt.Errorf("start the gomlx Go backend: %w", err)
	}
	store := model.NewStore()
	if err := m.VariablesToScope(store.RootScope()); err != nil {
		backend.Finalize()
		return nil, fmt.Errorf("%w: load weights: %v", ErrInvalidModel, err)
	}
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, images *graph.Node) *graph.Node {
		return m.CallGraph(scope, images.Graph(), map[string]*graph.Node{inNames[0]: images}, outNames[0])[0]
	})
	if err != nil {
		backend.Finalize()
		return nil, fmt.Errorf("build the gomlx graph: %w", err)
	}
	// Compile now, once, so that the first request does not pay for it.
	if _, err := exec.Compile(shapes.Make(dtypes.Float32, 1, 3, InputSize, InputSize)); err != nil {
		exec.Finalize()
		backend.Finalize()
		return nil, fmt.Errorf("%w: compile with gomlx: %v", ErrInvalidModel, err)
	}
	return newDetector(BackendGoMLX, &gomlxNet{
		backend: backend,
		exec:    exec,
		slots:   make(chan struct{}, threads),
	}), nil
}

func gomlxDims(ss []shapes.Shape) [][]int64 {
	dims := make([][]int64, len(ss))
	for i, s := range ss {
		for _, d := range s.Dimensions {
			dims[i] = append(dims[i], int64(d))
		}
	}
	return dims
}

func (n *gomlxNet) run(ctx context.Context, in, out []float32) error {
	// Waiting for a slot can take seconds; a run, once started, cannot be interrupted.
	select {
	case n.slots <- struct{}{}:
		defer func() { <-n.slots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	input := tensors.FromFlatDataAndDimensions(in, 1, 3, InputSize, InputSize)
	defer input.FinalizeAll()
	outputs, err := n.exec.Exec(input)
	if err != nil {
		return fmt.Errorf("run the gomlx graph: %w", err)
	}
	defer func() {
		for _, o := range outputs {
			o.FinalizeAll()
		}
	}()
	if len(outputs) != 1 || outputs[0].Size() != len(out) {
		return fmt.Errorf("gomlx graph gave %d outputs, want one of %d values", len(outputs), len(out))
	}
	return tensors.ConstFlatData(outputs[0], func(flat []float32) { copy(out, flat) })
}

func (n *gomlxNet) threads() int { return cap(n.slots) }

func (n *gomlxNet) close() error {
	n.exec.Finalize()
	n.backend.Finalize()
	return nil
}

// goBackendConfig runs the graph's nodes one after another, each op still spread over
// the cores. The default (nodes in parallel when a run is alone) deadlocks now and then
// in github.com/gomlx/compute v0.1.6: node tasks take every slot of the backend's worker
// pool, then the convolutions inside them wait for a free slot that never comes
// (workerspool.WaitToStart under executeParallel; seen on the 2nd to 6th run of dog.jpg).
const goBackendConfig = "ops_sequential"
