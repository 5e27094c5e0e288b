package faces

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // LFW photos
	_ "image/png"
	"io"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	xdraw "golang.org/x/image/draw"

	_ "github.com/servebench/servebench/service/faces/pgm" // ORL images
)

// Layout names the directory layout of a face data set.
type Layout string

const (
	// ORL is the AT&T/Olivetti set: sN/M.pgm, 92×112 grey, one directory per person.
	ORL Layout = "orl"
	// LFW is Labeled Faces in the Wild: Person_Name/Person_Name_0001.jpg, 250×250.
	LFW Layout = "lfw"
)

// LFW preprocessing, as scikit-learn's fetch_lfw_people(min_faces_per_person=70,
// resize=0.4): rows 70:195 and columns 78:172 of the 250×250 photo, scaled by 0.4
// to 37×50, grey as the mean of R, G and B.
var (
	lfwCrop          = image.Rect(78, 70, 172, 195)
	lfwWidth         = int(float64(lfwCrop.Dx()) * 0.4)
	lfwHeight        = int(float64(lfwCrop.Dy()) * 0.4)
	lfwMinPerPerson  = 70
	orlEntry         = regexp.MustCompile(`(?:^|/)s(\d+)/(\d+)\.pgm$`)
	lfwEntry         = regexp.MustCompile(`(?:^|/)([^/]+)/([^/]+)_(\d{4})\.jpe?g$`)
	errNoFaces       = errors.New("no face images in the ORL (sN/M.pgm) or LFW (Name/Name_0001.jpg) layout")
	errMixedLayouts  = errors.New("both ORL and LFW images: a data set must use one layout")
	errUnsafeEntry   = errors.New("unsafe entry name")
	errLimitExceeded = errors.New("limit exceeded")
)

// Limits bound what a data set may hold, so a hostile or mistaken source (an
// archive bomb, a huge directory) cannot exhaust memory.
type Limits struct {
	MaxEntries    int   // files in the source
	MaxEntryBytes int64 // one file, uncompressed
	MaxTotalBytes int64 // all files, uncompressed; with their overhead, the largest archive read
}

// entryOverhead is what an archive adds around each file, at most: a tar header,
// a PAX header and record for a long or non-ASCII name (names are at most
// maxNameLen bytes), and the padding of the data to 512 bytes.
const entryOverhead = 2 << 10

// maxNameLen bounds an entry's name. No byte limit counts names, and a tar.gz can
// carry megabyte names that compress to nothing; real data sets' paths are short.
const maxNameLen = 256

// tarBytes bounds a .tar.gz once decompressed: MaxTotalBytes of files,
// entryOverhead for each of MaxEntries, and the end blocks. The tar reader
// inflates the data of the entries ReadArchive skips too, and a header-only entry
// counts against no other limit, so without this bound a bomb of either would be
// inflated in full.
func (l Limits) tarBytes() int64 {
	return l.MaxTotalBytes + int64(l.MaxEntries)*entryOverhead + 1024
}

// archiveBytes bounds an archive as read: files of MaxTotalBytes in their
// container (tarBytes covers a tar's or a zip's overhead per file) and compressed
// data that did not compress (deflate adds 5 bytes per stored block of up to 64 KiB,
// gzip an 18-byte frame), so that the archive WriteArchive stores of files within
// the limits reads back.
func (l Limits) archiveBytes() int64 {
	t := l.tarBytes()
	return t + t/1024 + 1024
}

// DefaultLimits fit the whole LFW archive (13 233 photos, about 180 MB, read before
// the people with ≥ 70 photos are picked) and ORL (400 files, 4 MB), and a 1 GB
// function.
var DefaultLimits = Limits{MaxEntries: 20000, MaxEntryBytes: 8 << 20, MaxTotalBytes: 256 << 20}

// Files are the files of a data set by slash-separated relative path.
type Files map[string][]byte

// filesBuilder adds files while enforcing Limits.
type filesBuilder struct {
	lim   Limits
	files Files
	total int64
}

func (b *filesBuilder) add(name string, r io.Reader) error {
	clean, err := safeName(name)
	if err != nil {
		return err
	}
	if len(b.files) >= b.lim.MaxEntries {
		return fmt.Errorf("more than %d files: %w", b.lim.MaxEntries, errLimitExceeded)
	}
	data, err := io.ReadAll(io.LimitReader(r, b.lim.MaxEntryBytes+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", clean, err)
	}
	if int64(len(data)) > b.lim.MaxEntryBytes {
		return fmt.Errorf("%s is larger than %d bytes: %w", clean, b.lim.MaxEntryBytes, errLimitExceeded)
	}
	b.total += int64(len(data))
	if b.total > b.lim.MaxTotalBytes {
		return fmt.Errorf("files larger than %d bytes in total: %w", b.lim.MaxTotalBytes, errLimitExceeded)
	}
	b.files[clean] = data
	return nil
}

// safeName rejects names that are absolute or climb out of the archive's root
// (../), so no entry can pass for a path outside the data set, and names of the
// root itself or longer than maxNameLen.
func safeName(name string) (string, error) {
	if len(name) > maxNameLen {
		return "", fmt.Errorf("%w %.40q…: longer than %d bytes", errUnsafeEntry, name, maxNameLen)
	}
	if strings.ContainsRune(name, '\\') || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w %q", errUnsafeEntry, name)
	}
	if path.IsAbs(name) {
		return "", fmt.Errorf("%w %q: absolute", errUnsafeEntry, name)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%w %q: leaves the archive", errUnsafeEntry, name)
	}
	if clean == "." {
		return "", fmt.Errorf("%w %q: names no file", errUnsafeEntry, name)
	}
	return clean, nil
}

// ReadArchive reads a .tar.gz, .tar or .zip archive (told apart by their leading
// bytes) within lim. Directories, links and other non-regular entries are skipped.
func ReadArchive(r io.Reader, lim Limits) (Files, error) {
	data, err := io.ReadAll(io.LimitReader(r, lim.archiveBytes()+1))
	if err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	if int64(len(data)) > lim.archiveBytes() {
		return nil, fmt.Errorf("archive larger than %d bytes: %w", lim.archiveBytes(), errLimitExceeded)
	}
	b := &filesBuilder{lim: lim, files: Files{}}
	switch {
	case isZip(data):
		// zip.NewReader indexes every central directory record, about 230 bytes
		// of memory for 46 of archive, before any limit applies. Each record
		// starts with this signature, so counting it bounds the index first;
		// directories have records too, so allow as many again.
		if n := bytes.Count(data, []byte("PK\x01\x02")); n > 2*lim.MaxEntries {
			return nil, fmt.Errorf("zip directory of up to %d entries, over %d: %w", n, 2*lim.MaxEntries, errLimitExceeded)
		}
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, fmt.Errorf("read zip: %w", err)
		}
		for _, f := range zr.File {
			if !f.Mode().IsRegular() {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("zip entry %s: %w", f.Name, err)
			}
			err = b.add(f.Name, rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
		}
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("read gzip: %w", err)
		}
		if err := readTar(&boundedReader{r: zr, max: lim.tarBytes()}, b); err != nil {
			return nil, err
		}
	case len(data) > 262 && string(data[257:262]) == "ustar":
		if err := readTar(bytes.NewReader(data), b); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("read archive: not a .tar.gz, .tar or .zip")
	}
	return b.files, nil
}

// isZip tells a zip archive by its first record: a file, or the end of an empty
// archive. (zip.NewReader would also read one after other bytes.)
func isZip(data []byte) bool {
	return bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06"))
}

// boundedReader reads r up to max bytes and fails with errLimitExceeded when r
// holds more.
type boundedReader struct {
	r         io.Reader
	max, read int64
}

func (br *boundedReader) Read(p []byte) (int, error) {
	if left := br.max - br.read; int64(len(p)) > left+1 {
		p = p[:left+1] // one byte past the bound tells that r holds more
	}
	n, err := br.r.Read(p)
	br.read += int64(n)
	if over := br.read - br.max; over > 0 {
		br.read = br.max
		return n - int(over), fmt.Errorf("archive larger than %d bytes decompressed: %w", br.max, errLimitExceeded)
	}
	return n, err
}

func readTar(r io.Reader, b *filesBuilder) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := b.add(h.Name, tr); err != nil {
			return err
		}
	}
}

// ReadDir reads every regular file under fsys within lim.
func ReadDir(fsys fs.FS, lim Limits) (Files, error) {
	b := &filesBuilder{lim: lim, files: Files{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return b.add(p, f)
	})
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	return b.files, nil
}

// WriteArchive writes files as a .tar.gz, entries in name order so the same files
// always make the same archive.
func WriteArchive(w io.Writer, files Files) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return fmt.Errorf("write archive entry %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("write archive entry %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	return zw.Close()
}

// entry is one face image found in Files.
type entry struct {
	path   string
	person string // class name
	order  int    // person's sort key for ORL (subject number)
	index  int    // image number within the person
}

// Select keeps the face images of the one layout found in files (for LFW, only
// the people with at least 70 photos), dropping everything else (READMEs, other
// people), and names the layout.
func Select(files Files) (Files, Layout, error) {
	entries, layout, err := findEntries(files)
	if err != nil {
		return nil, "", err
	}
	out := make(Files, len(entries))
	for _, e := range entries {
		out[e.path] = files[e.path]
	}
	return out, layout, nil
}

func findEntries(files Files) ([]entry, Layout, error) {
	var orl, lfw []entry
	for p := range files {
		if m := orlEntry.FindStringSubmatch(p); m != nil {
			subject, _ := strconv.Atoi(m[1])
			img, _ := strconv.Atoi(m[2])
			orl = append(orl, entry{path: p, person: "s" + strconv.Itoa(subject), order: subject, index: img})
		} else if m := lfwEntry.FindStringSubmatch(p); m != nil && m[1] == m[2] {
			img, _ := strconv.Atoi(m[3])
			lfw = append(lfw, entry{path: p, person: m[1], index: img})
		}
	}
	switch {
	case len(orl) > 0 && len(lfw) > 0:
		return nil, "", errMixedLayouts
	case len(orl) > 0:
		slices.SortFunc(orl, func(a, b entry) int {
			if a.order != b.order {
				return a.order - b.order
			}
			if a.index != b.index {
				return a.index - b.index
			}
			return strings.Compare(a.path, b.path)
		})
		return orl, ORL, nil
	case len(lfw) > 0:
		count := map[string]int{}
		for _, e := range lfw {
			count[e.person]++
		}
		kept := lfw[:0]
		for _, e := range lfw {
			if count[e.person] >= lfwMinPerPerson {
				kept = append(kept, e)
			}
		}
		if len(kept) == 0 {
			return nil, "", fmt.Errorf("no LFW person has %d or more photos", lfwMinPerPerson)
		}
		slices.SortFunc(kept, func(a, b entry) int {
			if c := strings.Compare(a.person, b.person); c != 0 {
				return c
			}
			return strings.Compare(a.path, b.path)
		})
		return kept, LFW, nil
	default:
		return nil, "", errNoFaces
	}
}

// Dataset is a face data set ready for learning: one row of grey levels (0–255)
// per image, all of the same size, and a class label per row.
type Dataset struct {
	Layout        Layout
	Names         []string // class names by label
	Width, Height int
	X             [][]float64
	Y             []int
}

// Load decodes the face images of files into a Dataset. Classes are numbered by
// subject number (ORL) or name (LFW); images within a class are in file order.
func Load(files Files) (*Dataset, error) {
	entries, layout, err := findEntries(files)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{Layout: layout}
	label := map[string]int{}
	for _, e := range entries {
		img, _, err := image.Decode(bytes.NewReader(files[e.path]))
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", e.path, err)
		}
		var x []float64
		var w, h int
		switch layout {
		case ORL:
			b := img.Bounds()
			w, h = b.Dx(), b.Dy()
			x = Features(img, b, w, h)
		case LFW:
			if !lfwCrop.In(img.Bounds()) {
				return nil, fmt.Errorf("%s is %v, too small for the LFW crop %v", e.path, img.Bounds().Size(), lfwCrop)
			}
			w, h = lfwWidth, lfwHeight
			x = Features(img, lfwCrop.Add(img.Bounds().Min), w, h)
		}
		if ds.Width == 0 {
			ds.Width, ds.Height = w, h
		} else if w != ds.Width || h != ds.Height {
			return nil, fmt.Errorf("%s is %d×%d, the other images %d×%d", e.path, w, h, ds.Width, ds.Height)
		}
		l, ok := label[e.person]
		if !ok {
			l = len(ds.Names)
			label[e.person] = l
			ds.Names = append(ds.Names, e.person)
		}
		ds.X = append(ds.X, x)
		ds.Y = append(ds.Y, l)
	}
	if len(ds.Names) < 2 {
		return nil, fmt.Errorf("%d person in the data set, want at least 2", len(ds.Names))
	}
	return ds, nil
}

// Features returns the grey levels (0–255, the mean of R, G and B) of the part r
// of img scaled to w×h (Catmull-Rom, close to PIL's bicubic), row by row.
func Features(img image.Image, r image.Rectangle, w, h int) []float64 {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if r.Dx() == w && r.Dy() == h {
		draw.Draw(dst, dst.Bounds(), img, r.Min, draw.Src)
	} else {
		xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, r, xdraw.Src, nil)
	}
	x := make([]float64, w*h)
	for i := range x {
		p := dst.Pix[4*i : 4*i+3]
		x[i] = (float64(p[0]) + float64(p[1]) + float64(p[2])) / 3
	}
	return x
}
