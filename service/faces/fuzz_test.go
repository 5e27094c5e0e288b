package faces

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/servebench/servebench/service/faces/internal/allocs"
	"github.com/servebench/servebench/service/faces/svm"
	"github.com/servebench/servebench/service/reply"
	"github.com/servebench/servebench/service/timing"
)

// The archive fuzz limits are small on purpose: the limit checks are the same
// code at any size, and the fuzzer should spend its time on entries, not bytes.
// roomyLimits, 16 times larger, are the oracle: an archive read within them whose
// files fit fuzzLimits must read the same within fuzzLimits, and one whose files
// do not must be refused as over a limit (413), not as broken (422).
var (
	fuzzLimits  = Limits{MaxEntries: 8, MaxEntryBytes: 2 << 10, MaxTotalBytes: 8 << 10}
	roomyLimits = Limits{MaxEntries: 128, MaxEntryBytes: 32 << 10, MaxTotalBytes: 128 << 10}
)

// FuzzReadArchive: on any bytes, ReadArchive returns either an error that the
// callers map to 413 (a limit) or 422 (anything else), and no files; or files
// within every limit, each under a name safeName's rules allow. Either way the
// decompressed tar stream and the zip index stay within their bounds and
// allocation follows the limits and the input (a bomb is not inflated in full).
// Files read within fuzzLimits read the same within roomyLimits, and
// WriteArchive's archive of them reads back as the same files.
func FuzzReadArchive(f *testing.F) {
	for _, s := range archiveSeeds(f) {
		f.Add(s)
	}
	// WriteArchive's gzip writer allocates about 1 MB a call: at the default GC
	// target a collection would follow every few executions and take more time
	// than they do.
	defer debug.SetGCPercent(debug.SetGCPercent(1000))
	f.Fuzz(checkReadArchive)
}

// checkReadArchive is FuzzReadArchive's body.
func checkReadArchive(t *testing.T, data []byte) {
	var files Files
	var err error
	if n, most := allocs.Bytes(func() { files, err = ReadArchive(bytes.NewReader(data), fuzzLimits) }), archiveAllocBound(len(data)); n > most {
		t.Fatalf("ReadArchive of %d bytes (%v) allocated %d bytes, more than %d", len(data), err, n, most)
	}
	if err != nil {
		checkArchiveError(t, files, err)
		if errors.Is(err, errLimitExceeded) {
			return
		}
	}
	// zip.NewReader indexes every entry, at about five times the archive's bytes
	// (a memory bomb at the default limits, invisible at these): only an archive
	// within the limits may be indexed.
	if n := zipEntries(data); n > 2*fuzzLimits.MaxEntries {
		t.Fatalf("a zip of %d entries was indexed (%v)", n, err)
	}
	if err != nil {
		if roomy, roomyErr := ReadArchive(bytes.NewReader(data), roomyLimits); roomyErr == nil && !withinLimits(roomy, fuzzLimits) {
			t.Fatalf("files over the limits refused as %v, not as over a limit", err)
		}
		return
	}
	if !withinLimits(files, fuzzLimits) {
		t.Fatalf("%d files read, over the limits %+v", len(files), fuzzLimits)
	}
	for name := range files {
		if !allowedName(name) {
			t.Fatalf("file named %q", name)
		}
	}
	if roomy, roomyErr := ReadArchive(bytes.NewReader(data), roomyLimits); roomyErr != nil || !sameFiles(files, roomy) {
		t.Fatalf("read within the small limits but not the same within roomy ones: %v", roomyErr)
	}
	if n := tarStreamBytes(data, roomyLimits.tarBytes()); n > fuzzLimits.tarBytes() {
		t.Fatalf("accepted a tar stream of %d bytes, over the bound of %d", n, fuzzLimits.tarBytes())
	}
	var archive bytes.Buffer
	if err := WriteArchive(&archive, files); err != nil {
		t.Fatalf("WriteArchive of files read: %v", err)
	}
	back, err := ReadArchive(bytes.NewReader(archive.Bytes()), fuzzLimits)
	switch {
	case int64(archive.Len()) > fuzzLimits.MaxTotalBytes:
		// The archive limit is MaxTotalBytes too, so files just within it can make
		// an archive over it (what download_data stores, train then refuses).
		if !errors.Is(err, errLimitExceeded) {
			t.Fatalf("rewritten archive of %d bytes: %v, want a limit error", archive.Len(), err)
		}
	case err != nil || !sameFiles(files, back):
		t.Fatalf("rewritten archive does not read back: %v, %d files of %d", err, len(back), len(files))
	}
}

// archiveAllocBound is what ReadArchive within fuzzLimits may allocate for n
// bytes of input: a copy of the input, zip's index of it (bounded by the
// entries), the files and the tar stream's headers within their bounds, and the
// decompressors' fixed state.
func archiveAllocBound(n int) uint64 {
	return 3*uint64(n) + 4*uint64(fuzzLimits.tarBytes()) + 128<<10
}

// checkArchiveError asserts ReadArchive's error contract: no files, and an error
// the callers (dataError) map to 413 for a limit and 422 for anything else.
func checkArchiveError(t *testing.T, files Files, err error) {
	t.Helper()
	if files != nil {
		t.Fatalf("%d files and an error: %v", len(files), err)
	}
	want := http.StatusUnprocessableEntity
	if errors.Is(err, errLimitExceeded) {
		want = http.StatusRequestEntityTooLarge
	}
	if got := reply.As(dataError("fuzz", err)).Status; got != want {
		t.Fatalf("%v answers %d, want %d", err, got, want)
	}
}

func withinLimits(files Files, lim Limits) bool {
	var total int64
	for _, data := range files {
		if int64(len(data)) > lim.MaxEntryBytes {
			return false
		}
		total += int64(len(data))
	}
	return len(files) <= lim.MaxEntries && total <= lim.MaxTotalBytes
}

// allowedName restates safeName's rules for a name ReadArchive returns: relative,
// clean, inside the archive, naming a file, no backslash or NUL, not too long.
func allowedName(name string) bool {
	return len(name) <= maxNameLen && name == path.Clean(name) && !path.IsAbs(name) &&
		name != "." && name != ".." && !strings.HasPrefix(name, "../") && !strings.ContainsAny(name, "\\\x00")
}

func sameFiles(a, b Files) bool {
	if len(a) != len(b) {
		return false
	}
	for name, data := range a {
		if other, ok := b[name]; !ok || !bytes.Equal(data, other) {
			return false
		}
	}
	return true
}

// zipEntries is how many entries zip.NewReader indexes in data that ReadArchive
// takes for a zip.
func zipEntries(data []byte) int {
	if !isZip(data) {
		return 0
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0
	}
	return len(zr.File)
}

// tarStreamBytes is how much of a .tar.gz's decompressed stream a tar reader
// consumes to its end (at most most+1 bytes are looked at); 0 for anything else.
func tarStreamBytes(data []byte, most int64) int64 {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0
	}
	c := &countingReader{r: io.LimitReader(zr, most+1)}
	tr := tar.NewReader(c)
	for {
		if _, err := tr.Next(); err != nil {
			return c.n
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// tarEntry is one entry of a hand-built tar: a header and the bytes after it.
type tarEntry struct {
	hdr  tar.Header
	data []byte
}

// tarOf writes entries as a tar, gzipped if gz. Sizes are taken from the headers,
// so an entry can declare more than it holds (the archive is then cut there).
func tarOf(tb testing.TB, gz bool, entries ...tarEntry) []byte {
	tb.Helper()
	var b bytes.Buffer
	var w io.Writer = &b
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&b)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr := e.hdr
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			tb.Fatal(err)
		}
		if int64(len(e.data)) < hdr.Size {
			break // declared larger than its content: cut here
		}
	}
	if err := tw.Flush(); err == nil {
		tw.Close()
	}
	if zw != nil {
		zw.Close()
	}
	return b.Bytes()
}

func regular(name string, data []byte) tarEntry {
	return tarEntry{tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(data))}, data}
}

// zipRaw writes one entry stored as it is, declaring size bytes uncompressed.
func zipRaw(tb testing.TB, name string, data []byte, size uint64) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, CompressedSize64: uint64(len(data)), UncompressedSize64: size})
	if err != nil {
		tb.Fatal(err)
	}
	w.Write(data)
	zw.Close()
	return b.Bytes()
}

func archiveSeeds(tb testing.TB) [][]byte {
	// Real ORL bytes, cut to fit the small limits (ReadArchive does not look
	// inside files).
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(orlDir(tb), name))
		if err != nil {
			tb.Fatal(err)
		}
		return data
	}
	s1, s2 := read("s1/1.pgm")[:300], read("s2/1.pgm")[:200]
	orl := Files{"orl/s1/1.pgm": s1, "orl/s2/1.pgm": s2}
	var written bytes.Buffer
	if err := WriteArchive(&written, orl); err != nil {
		tb.Fatal(err)
	}
	var empty bytes.Buffer
	if err := WriteArchive(&empty, Files{}); err != nil {
		tb.Fatal(err)
	}
	zeros := make([]byte, 1<<20) // a bomb: compresses about a thousandfold
	dir := tarEntry{hdr: tar.Header{Name: "orl/s1/", Typeflag: tar.TypeDir}}
	dirs := make([]tarEntry, 600) // 300 KB of headers that count against no file limit
	for i := range dirs {
		dirs[i] = dir
	}
	linked := []tarEntry{
		dir,
		{hdr: tar.Header{Name: "orl/link", Typeflag: tar.TypeSymlink, Linkname: "/etc"}},
		{hdr: tar.Header{Name: "orl/hard", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}},
		{hdr: tar.Header{Name: "orl/fifo", Typeflag: tar.TypeFifo}},
		regular("orl/link/passwd", []byte("via the link")),
		regular("orl/s1/1.pgm", s1),
	}
	manyDirs := map[string][]byte{"s1/1.pgm": s1}
	for i := range 2*fuzzLimits.MaxEntries + 1 {
		manyDirs[fmt.Sprintf("d%d/", i)] = nil
	}
	names := func(ns ...string) []tarEntry {
		var es []tarEntry
		for _, n := range ns {
			es = append(es, regular(n, []byte(n)))
		}
		return es
	}
	seeds := [][]byte{
		written.Bytes(), // WriteArchive's own
		written.Bytes()[:written.Len()/2],
		empty.Bytes(),
		tarOf(tb, false, linked...),
		tarOf(tb, true, linked...),
		zipOf(tb, map[string][]byte{"orl/s1/1.pgm": s1, "orl/s2/": nil}),
		zipRaw(tb, "orl/s1/1.pgm", s1, uint64(len(s1))),
		zipRaw(tb, "orl/s1/1.pgm", s1[:10], 1<<30), // declares more than it holds
		tarOf(tb, true, tarEntry{tar.Header{Name: "s1/1.pgm", Typeflag: tar.TypeReg, Size: 1 << 30}, s1[:10]}),
		tarOf(tb, true, names("../../etc/passwd")...),
		tarOf(tb, false, names("/etc/passwd")...),
		zipOf(tb, map[string][]byte{"orl/../../s1/1.pgm": nil}),
		zipOf(tb, map[string][]byte{`..\s1\1.pgm`: nil}),
		tarOf(tb, true, names(".", "a/..", "./a")...),
		zipOf(tb, map[string][]byte{"a\x00b": nil}),
		tarOf(tb, true, names(strings.Repeat("long/", 52)+"1.pgm", strings.Repeat("é", 128))...),
		tarOf(tb, true, regular("a", []byte("first")), regular("./a", []byte("second")), regular("a", []byte("third"))),
		tarOf(tb, true, names("1", "2", "3", "4", "5", "6", "7", "8", "9")...), // one file too many
		tarOf(tb, true, regular("a", zeros[:1500]), regular("b", zeros[:1500]), regular("c", zeros[:1500]),
			regular("d", zeros[:1500]), regular("e", zeros[:1500]), regular("f", zeros[:1500])), // total over
		tarOf(tb, true, regular("s1/1.pgm", zeros)),
		zipOf(tb, map[string][]byte{"s1/1.pgm": zeros}),
		tarOf(tb, true, tarEntry{tar.Header{Name: "skipped", Typeflag: 'Z', Size: int64(len(zeros))}, zeros}, regular("s1/1.pgm", s1)),
		tarOf(tb, true, append(dirs, regular("s1/1.pgm", s1))...),
		zipOf(tb, manyDirs), // more directory records than the index allows
		append([]byte("PK\x05\x06"), make([]byte, 18)...), // an empty zip
		{0x1f, 0x8b},
		[]byte("plain text"),
		nil,
	}
	return seeds
}

// refineImage is the photo a decoded model refines a face box in.
var refineImage = func() *image.Gray {
	g := image.NewGray(image.Rect(0, 0, 48, 48))
	for i := range g.Pix {
		g.Pix[i] = uint8(i*7 + i/48*13)
	}
	return g
}()

// FuzzDecodeModel: on any bytes, DecodeModel either refuses them (no model) or
// returns a model that holds together: its image size is its PCA's input,
// numbers are finite, labels name people, its SVM has one machine per pair of
// classes in order; Predict classifies a feature vector of that size into one of
// its people with a score in [0, 1], Refine moves a box of its aspect within the
// photo, and encoding it decodes to the same model. Allocation follows the input
// (gob grows slices as their elements arrive) plus gob's 10 MiB cap on what it
// reserves up front for a declared length.
func FuzzDecodeModel(f *testing.F) {
	for _, s := range modelSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(checkDecodeModel)
}

// checkDecodeModel is FuzzDecodeModel's body.
func checkDecodeModel(t *testing.T, data []byte) {
	var m *Model
	var err error
	if n, most := allocs.Bytes(func() { m, err = DecodeModel(bytes.NewReader(data)) }), modelAllocBound(len(data)); n > most {
		t.Fatalf("DecodeModel of %d bytes (%v) allocated %d bytes, more than %d", len(data), err, n, most)
	}
	if err != nil {
		if m != nil {
			t.Fatalf("a model and an error: %v", err)
		}
		return
	}
	checkModel(t, m)
	var enc bytes.Buffer
	if err := m.Encode(&enc); err != nil {
		t.Fatal(err)
	}
	back, err := DecodeModel(&enc)
	if err != nil || !reflect.DeepEqual(back, m) {
		t.Fatalf("encoded and decoded again: %v, same %v", err, reflect.DeepEqual(back, m))
	}
}

// modelAllocBound is what DecodeModel may allocate for n bytes: gob's decoder
// state, up to 10 MiB it reserves for a declared slice length before the
// elements arrive, and the model itself, up to 24 bytes (a slice header) for an
// element encoded in one byte.
func modelAllocBound(n int) uint64 { return 64*uint64(n) + 12<<20 }

// checkModel asserts what a decoded model must hold, independently of Validate,
// and uses it as Predict does.
func checkModel(t *testing.T, m *Model) {
	t.Helper()
	d, k := m.PCA.Dim(), len(m.SVM.Classes)
	if m.Version != ModelVersion || m.Width < 1 || m.Height < 1 || m.Width > d || m.Height > d ||
		int64(m.Width)*int64(m.Height) != int64(d) {
		t.Fatalf("model v%d %d×%d with %d features", m.Version, m.Width, m.Height, d)
	}
	if len(m.PCA.Components) != len(m.PCA.Variance) || m.SVM.Dim() != m.PCA.K() || k < 2 || len(m.SVM.Pairs) != k*(k-1)/2 {
		t.Fatalf("%d components, %d variances, svm of %d features, %d classes, %d pairs",
			len(m.PCA.Components), len(m.PCA.Variance), m.SVM.Dim(), k, len(m.SVM.Pairs))
	}
	for _, row := range append(append([][]float64{m.PCA.Mean, m.PCA.Variance}, m.PCA.Components...), m.SVM.SV...) {
		for _, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatal("a number that is not finite")
			}
		}
	}
	x := make([]float64, d)
	for i := range x {
		x[i] = float64(i * 37 % 256)
	}
	p, err := m.Predict(x)
	if err != nil {
		t.Fatalf("predict: %v", err)
	}
	if p.Label < 0 || p.Label >= len(m.Names) || p.Name != m.Names[p.Label] || p.Votes < 0 || p.Votes > k-1 ||
		p.Score != float64(p.Votes)/float64(k-1) {
		t.Fatalf("prediction %+v from %d classes of %d names", p, k, len(m.Names))
	}
	// A box of the model's aspect, as FaceRegion makes, 30 pixels wide.
	b := refineImage.Bounds()
	h := 30 * m.Height / m.Width
	box := image.Rect(9, 24-h/2, 39, 24-h/2+h).Intersect(b)
	if box.Empty() {
		return
	}
	face := Face{Box: [4]int{box.Min.X, box.Min.Y, box.Max.X, box.Max.Y}, Detected: true}
	got, err := m.Refine(refineImage, face)
	if err != nil {
		t.Fatalf("refine: %v", err)
	}
	if r := image.Rect(got.Box[0], got.Box[1], got.Box[2], got.Box[3]); r.Empty() || !r.In(b) {
		t.Fatalf("refined to %v, outside %v", r, b)
	}
}

// modelSeeds are a small model trained on ORL faces (3×4 pixels, three people),
// encoded as it is, cut, with flipped bytes, and made inconsistent.
func modelSeeds(tb testing.TB) [][]byte {
	m := smallORLModel(tb)
	encode := func(m *Model) []byte {
		var b bytes.Buffer
		if err := m.Encode(&b); err != nil {
			tb.Fatal(err)
		}
		return b.Bytes()
	}
	good := encode(m)
	seeds := [][]byte{good, good[:len(good)/2], good[:len(modelMagic)+10], []byte(modelMagic), nil}
	for _, at := range []int{len(modelMagic) + 3, len(good) / 3, len(good) - 9} {
		flipped := bytes.Clone(good)
		flipped[at] ^= 0x55
		seeds = append(seeds, flipped)
	}
	broken := func(change func(*Model)) []byte {
		c := *m
		pcaCopy, svmCopy := *m.PCA, *m.SVM
		c.PCA, c.SVM = &pcaCopy, &svmCopy
		change(&c)
		return encode(&c)
	}
	w, h := wrappingSize(m.PCA.Dim())
	seeds = append(seeds,
		broken(func(c *Model) { c.Version = ModelVersion + 1 }),
		broken(func(c *Model) { c.Width, c.Height = w, h }), // w·h wraps around to the feature count
		broken(func(c *Model) { c.Names = c.Names[:1] }),
		broken(func(c *Model) { c.SVM.Pairs = append([]svm.Pair(nil), c.SVM.Pairs[0], c.SVM.Pairs[0], c.SVM.Pairs[0]) }),
		broken(func(c *Model) { c.SVM.Classes = []int{0, 0, 2} }),
		broken(func(c *Model) { c.PCA.Mean = append([]float64{math.NaN()}, c.PCA.Mean[1:]...) }),
		broken(func(c *Model) { c.SVM.Params.Gamma = math.Inf(1) }),
		broken(func(c *Model) { c.PCA.Components = c.PCA.Components[:1] }),
		hugeNames(tb, broken(func(c *Model) { c.Names = []string{"NAMEMARKER", "s2", "s3"} })),
	)
	return seeds
}

// hugeNames makes model (whose first name is NAMEMARKER) declare 10⁸ names while
// holding three: gob reserves at most 10 MiB for a declared length (it refuses
// outright one over 8 GiB), and fails when the elements run out.
func hugeNames(tb testing.TB, model []byte) []byte {
	tb.Helper()
	at := bytes.Index(model, []byte("\x03\x0aNAMEMARKER"))
	if at < 0 {
		tb.Fatal("names not found in the encoded model")
	}
	many := []byte{0xfc, 0x05, 0xf5, 0xe1, 0x00} // gob's uint encoding: -(byte count), then big-endian
	out := append(append(bytes.Clone(model[:at]), many...), model[at+1:]...)
	// The value is the last gob message: add the four bytes to its length.
	for i := len(modelMagic); i < at; {
		n, w := gobUint(out[i:])
		if i+w+n >= at {
			head := append(bytes.Clone(out[:i]), gobUintBytes(n+len(many)-1)...)
			return append(head, out[i+w:]...)
		}
		i += w + n
	}
	tb.Fatal("no gob message holds the names")
	return nil
}

// gobUint decodes a gob unsigned integer, returning it and its width in bytes.
func gobUint(b []byte) (int, int) {
	if b[0] < 0x80 {
		return int(b[0]), 1
	}
	w := int(-int8(b[0]))
	n := 0
	for _, c := range b[1 : 1+w] {
		n = n<<8 | int(c)
	}
	return n, 1 + w
}

// gobUintBytes encodes n as a gob unsigned integer.
func gobUintBytes(n int) []byte {
	if n < 0x80 {
		return []byte{byte(n)}
	}
	var be []byte
	for ; n > 0; n >>= 8 {
		be = append([]byte{byte(n)}, be...)
	}
	return append([]byte{byte(-int8(len(be)))}, be...)
}

// wrappingSize returns a width and height whose product in int wraps around to
// d (for odd widths, which are invertible modulo 2⁶⁴): both positive, the height
// far larger than d.
func wrappingSize(d int) (int, int) {
	for w := uint64(3); ; w += 2 {
		inv := w // Newton's iteration for w⁻¹ mod 2⁶⁴: each step doubles the correct bits
		for range 6 {
			inv *= 2 - w*inv
		}
		if h := uint64(d) * inv; int(h) > d && int(w)*int(h) == d {
			return int(w), int(h)
		}
	}
}

// smallORLModel trains on 3×4-pixel versions of the first five images of three
// ORL people: a real model, small enough (about 1 KB) for the fuzzer to mutate
// and minimize quickly.
func smallORLModel(tb testing.TB) *Model {
	tb.Helper()
	ds := &Dataset{Layout: ORL, Width: 3, Height: 4}
	for p := 1; p <= 3; p++ {
		ds.Names = append(ds.Names, fmt.Sprintf("s%d", p))
		for i := 1; i <= 5; i++ {
			data, err := os.ReadFile(filepath.Join(orlDir(tb), fmt.Sprintf("s%d/%d.pgm", p, i)))
			if err != nil {
				tb.Fatal(err)
			}
			img, _, err := image.Decode(bytes.NewReader(data))
			if err != nil {
				tb.Fatal(err)
			}
			ds.X = append(ds.X, Features(img, img.Bounds(), ds.Width, ds.Height))
			ds.Y = append(ds.Y, p-1)
		}
	}
	opt := TrainOptions{Components: 3, TestFraction: 0.25, Seed: 42, Folds: 2,
		Grid: svm.Grid{Cs: []float64{1e3}, Gammas: []float64{1e-3, 1e-2}}, Tol: svm.Tol}
	m, _, err := Train(context.Background(), ds, opt, timing.New())
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
