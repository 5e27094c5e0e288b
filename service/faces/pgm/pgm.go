// Package pgm decodes Netpbm grey maps: binary (P5) and plain (P2), 8 or 16 bits,
// the format of the ORL face set. Importing it registers the format with the image
// package, so image.Decode reads PGM files too.
package pgm

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"slices"
)

// MaxPixels bounds width·height: the largest image Decode returns. Decode's memory
// follows the bytes it is given, so a header declaring this much costs nothing
// until its raster arrives; callers with tighter limits check DecodeConfig first.
const MaxPixels = 64 << 20

// ErrTooLarge is in the chain of an error about a header declaring more than
// MaxPixels or a number too large to be a size, so that a caller can answer "too
// large" (413) rather than "not an image".
var ErrTooLarge = errors.New("image too large")

func init() {
	image.RegisterFormat("pgm", "P5", Decode, DecodeConfig)
	image.RegisterFormat("pgm", "P2", Decode, DecodeConfig)
}

type header struct {
	plain         bool
	width, height int
	maxval        int
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}

// readInt reads the next whitespace-separated decimal number, skipping #
// comments, without allocating: a plain raster is one call per sample.
func readInt(r *bufio.Reader, what string) (int, error) {
	b, err := r.ReadByte()
	for err == nil && (isSpace(b) || b == '#') {
		if b == '#' {
			err = skipLine(r)
			if err != nil {
				break
			}
		}
		b, err = r.ReadByte()
	}
	if err != nil {
		return 0, fmt.Errorf("pgm: reading %s: %w", what, err)
	}
	n := 0
	for {
		if b < '0' || b > '9' {
			return 0, fmt.Errorf("pgm: %s: %q is not a digit", what, b)
		}
		if n > 1<<24 {
			return 0, fmt.Errorf("pgm: %s is not a small non-negative integer: %w", what, ErrTooLarge)
		}
		n = n*10 + int(b-'0')
		b, err = r.ReadByte()
		if err == io.EOF || err == nil && isSpace(b) {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("pgm: reading %s: %w", what, err)
		}
	}
}

// skipLine skips the rest of a comment line, however long, without keeping it.
func skipLine(r *bufio.Reader) error {
	for {
		_, err := r.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

func readHeader(r *bufio.Reader) (header, error) {
	var h header
	magic := make([]byte, 2)
	if _, err := io.ReadFull(r, magic); err != nil {
		return h, fmt.Errorf("pgm: reading magic: %w", err)
	}
	switch string(magic) {
	case "P5":
	case "P2":
		h.plain = true
	default:
		return h, fmt.Errorf("pgm: magic %q is not P5 or P2", magic)
	}
	var err error
	if h.width, err = readInt(r, "width"); err != nil {
		return h, err
	}
	if h.height, err = readInt(r, "height"); err != nil {
		return h, err
	}
	if h.maxval, err = readInt(r, "maxval"); err != nil {
		return h, err
	}
	if h.width < 1 || h.height < 1 {
		return h, fmt.Errorf("pgm: size %d×%d is empty", h.width, h.height)
	}
	if h.width*h.height > MaxPixels {
		return h, fmt.Errorf("pgm: size %d×%d is larger than %d pixels: %w", h.width, h.height, MaxPixels, ErrTooLarge)
	}
	if h.maxval < 1 || h.maxval > 65535 {
		return h, fmt.Errorf("pgm: maxval %d is not in 1..65535", h.maxval)
	}
	return h, nil
}

// DecodeConfig reads the size of a PGM image.
func DecodeConfig(r io.Reader) (image.Config, error) {
	h, err := readHeader(bufio.NewReader(r))
	if err != nil {
		return image.Config{}, err
	}
	model := color.GrayModel
	if h.maxval > 255 {
		model = color.Gray16Model
	}
	return image.Config{ColorModel: model, Width: h.width, Height: h.height}, nil
}

// Decode reads a PGM image as *image.Gray, or *image.Gray16 when maxval > 255.
// Samples are scaled to the full range of the result.
//
// The pixels grow as the raster arrives rather than being allocated from the
// header, which a 17-byte file declaring MaxPixels would have made cost hundreds
// of MB before failing as truncated.
func Decode(r io.Reader) (image.Image, error) {
	br := bufio.NewReader(r)
	h, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	size := 1 // bytes per sample, in the file (P5) and in the image
	if h.maxval > 255 {
		size = 2
	}
	var pix []byte
	if h.plain {
		if pix, err = readPlain(br, h, size); err != nil {
			return nil, err
		}
	} else {
		// Exactly one whitespace byte separates maxval from the raster; readInt
		// consumed it.
		if pix, err = readRaw(br, h.width*h.height*size); err != nil {
			return nil, fmt.Errorf("pgm: raster of %d×%d: %w", h.width, h.height, err)
		}
	}
	rect := image.Rect(0, 0, h.width, h.height)
	if size == 1 {
		if h.maxval != 255 {
			for i, s := range pix {
				if int(s) > h.maxval {
					return nil, fmt.Errorf("pgm: sample %d exceeds maxval %d", s, h.maxval)
				}
				pix[i] = uint8((int(s)*255 + h.maxval/2) / h.maxval)
			}
		}
		return &image.Gray{Pix: pix, Stride: h.width, Rect: rect}, nil
	}
	for i := 0; i < len(pix); i += 2 {
		s := int(pix[i])<<8 | int(pix[i+1])
		if s > h.maxval {
			return nil, fmt.Errorf("pgm: sample %d exceeds maxval %d", s, h.maxval)
		}
		v := (s*65535 + h.maxval/2) / h.maxval
		pix[i], pix[i+1] = uint8(v>>8), uint8(v)
	}
	return &image.Gray16{Pix: pix, Stride: 2 * h.width, Rect: rect}, nil
}

// readRaw reads n bytes, growing the buffer only as they arrive: each read asks
// for as much as has come so far (4 KB at first), so the buffer is never more
// than about twice the bytes actually read.
func readRaw(r io.Reader, n int) ([]byte, error) {
	var pix []byte
	for len(pix) < n {
		k := min(n-len(pix), max(len(pix), 4<<10))
		pix = slices.Grow(pix, k)
		got, err := io.ReadFull(r, pix[len(pix):len(pix)+k])
		pix = pix[:len(pix)+got]
		if err != nil {
			return nil, err
		}
	}
	return pix, nil
}

// readPlain reads the width·height decimal samples of a P2 raster as big-endian
// samples of size bytes; each takes at least one byte of input.
func readPlain(r *bufio.Reader, h header, size int) ([]byte, error) {
	var pix []byte
	for range h.width * h.height {
		s, err := readInt(r, "sample")
		if err != nil {
			return nil, err
		}
		if s > h.maxval {
			return nil, fmt.Errorf("pgm: sample %d exceeds maxval %d", s, h.maxval)
		}
		if size == 1 {
			pix = append(pix, uint8(s))
		} else {
			pix = append(pix, uint8(s>>8), uint8(s))
		}
	}
	return pix, nil
}
