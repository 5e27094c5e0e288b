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
)

// MaxPixels bounds width·height so a forged header cannot make Decode allocate
// without limit.
const MaxPixels = 64 << 20

func init() {
	image.RegisterFormat("pgm", "P5", Decode, DecodeConfig)
	image.RegisterFormat("pgm", "P2", Decode, DecodeConfig)
}

type header struct {
	plain         bool
	width, height int
	maxval        int
}

// readToken returns the next whitespace-separated token, skipping # comments.
func readToken(r *bufio.Reader) (string, error) {
	var tok []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && len(tok) > 0 {
				return string(tok), nil
			}
			return "", err
		}
		switch {
		case b == '#' && len(tok) == 0:
			if _, err := r.ReadString('\n'); err != nil {
				return "", err
			}
		case b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f':
			if len(tok) > 0 {
				return string(tok), nil
			}
		default:
			if len(tok) > 16 {
				return "", errors.New("pgm: header token too long")
			}
			tok = append(tok, b)
		}
	}
}

func readInt(r *bufio.Reader, what string) (int, error) {
	t, err := readToken(r)
	if err != nil {
		return 0, fmt.Errorf("pgm: reading %s: %w", what, err)
	}
	n := 0
	for _, c := range []byte(t) {
		if c < '0' || c > '9' || n > 1<<24 {
			return 0, fmt.Errorf("pgm: %s %q is not a small non-negative integer", what, t)
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
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
	if h.width < 1 || h.height < 1 || h.width*h.height > MaxPixels {
		return h, fmt.Errorf("pgm: size %d×%d is empty or larger than %d pixels", h.width, h.height, MaxPixels)
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
func Decode(r io.Reader) (image.Image, error) {
	br := bufio.NewReader(r)
	h, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	n := h.width * h.height
	samples := make([]int, n)
	switch {
	case h.plain:
		for i := range samples {
			if samples[i], err = readInt(br, "sample"); err != nil {
				return nil, err
			}
		}
	default:
		// Exactly one whitespace byte separates maxval from the raster; readToken
		// consumed it.
		size := 1
		if h.maxval > 255 {
			size = 2
		}
		raw := make([]byte, n*size)
		if _, err := io.ReadFull(br, raw); err != nil {
			return nil, fmt.Errorf("pgm: raster of %d×%d: %w", h.width, h.height, err)
		}
		for i := range samples {
			if size == 1 {
				samples[i] = int(raw[i])
			} else {
				samples[i] = int(raw[2*i])<<8 | int(raw[2*i+1])
			}
		}
	}
	rect := image.Rect(0, 0, h.width, h.height)
	if h.maxval <= 255 {
		img := image.NewGray(rect)
		for i, s := range samples {
			if s > h.maxval {
				return nil, fmt.Errorf("pgm: sample %d exceeds maxval %d", s, h.maxval)
			}
			img.Pix[i] = uint8((s*255 + h.maxval/2) / h.maxval)
		}
		return img, nil
	}
	img := image.NewGray16(rect)
	for i, s := range samples {
		if s > h.maxval {
			return nil, fmt.Errorf("pgm: sample %d exceeds maxval %d", s, h.maxval)
		}
		v := (s*65535 + h.maxval/2) / h.maxval
		img.Pix[2*i], img.Pix[2*i+1] = uint8(v>>8), uint8(v)
	}
	return img, nil
}
