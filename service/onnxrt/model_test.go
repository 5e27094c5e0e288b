package onnxrt

import (
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"
)

// node is one operator of a test model.
type node struct {
	op      string
	in, out []string
}

// testModel is an ONNX file with one float input "x" and one float output named by the
// last node, both of the given shape (a negative dimension is dynamic).
func testModel(t testing.TB, dims []int64, nodes ...node) []byte {
	t.Helper()
	var shape protos.TensorShapeProto
	for _, d := range dims {
		dim := &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: d}}
		if d < 0 {
			dim.Value = &protos.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	value := func(name string) *protos.ValueInfoProto {
		return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{
			Value: &protos.TypeProto_TensorType{TensorType: &protos.TypeProto_Tensor{
				ElemType: int32(protos.TensorProto_FLOAT), Shape: &shape}}}}
	}
	g := &protos.GraphProto{
		Name:   "test",
		Input:  []*protos.ValueInfoProto{value("x")},
		Output: []*protos.ValueInfoProto{value(nodes[len(nodes)-1].out[0])},
	}
	for _, n := range nodes {
		g.Node = append(g.Node, &protos.NodeProto{OpType: n.op, Input: n.in, Output: n.out})
	}
	b, err := proto.Marshal(&protos.ModelProto{
		IrVersion:   8,
		OpsetImport: []*protos.OperatorSetIdProto{{Version: 17}},
		Graph:       g,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// identityModel copies x to y.
func identityModel(t testing.TB, dims ...int64) []byte {
	return testModel(t, dims, node{"Identity", []string{"x"}, []string{"y"}})
}

// slowModel multiplies an n×n x by itself `steps` times: many kernels, each long enough
// for a cancellation to land between two of them.
func slowModel(t testing.TB, n int64, steps int) []byte {
	nodes := []node{{"MatMul", []string{"x", "x"}, []string{"m0"}}}
	for i := 1; i < steps; i++ {
		nodes = append(nodes, node{"MatMul", []string{nodes[i-1].out[0], "x"}, []string{"m" + itoa(i)}})
	}
	return testModel(t, []int64{n, n}, nodes...)
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
