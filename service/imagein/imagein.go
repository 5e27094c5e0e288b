// Package imagein decodes untrusted images under limits: only JPEG and PNG, at
// most a given number of bytes and pixels. The header is read first, so a
// decompression bomb is refused before any pixel memory is allocated.
//
// JPEG goes through libjpeg-turbo (package turbojpeg) when its library loads, else
// through Go's image/jpeg; see Codec. PNG always goes through image/png.
package imagein

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"

	"github.com/servebench/servebench/service/reply"
)

// Limits bound what Decode accepts.
type Limits struct {
	MaxBytes  int64 // encoded size
	MaxPixels int64 // width × height
}

// Format is an image encoding the service reads and writes.
type Format string

const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
)

// ContentType is the MIME type of the format.
func (f Format) ContentType() string { return "image/" + string(f) }

// Ext is the file name extension of the format.
func (f Format) Ext() string {
	if f == JPEG {
		return ".jpg"
	}
	return ".png"
}

// Sniff tells the format from the first bytes: JPEG starts FF D8 FF, PNG with its
// 8-byte signature. Only these two are accepted, whatever other decoders are
// registered in the program.
func Sniff(data []byte) (Format, bool) {
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return JPEG, true
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, true
	}
	return "", false
}

// Decode decodes data within lim. Errors are in the reply contract: 413 over a
// limit, 415 for anything that is not a well-formed JPEG or PNG.
func Decode(data []byte, lim Limits) (image.Image, Format, error) {
	return decode(data, lim, jpegCodec())
}

// decode is Decode with the JPEG codec given.
func decode(data []byte, lim Limits, jc codec) (image.Image, Format, error) {
	if lim.MaxBytes > 0 && int64(len(data)) > lim.MaxBytes {
		return nil, "", reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge,
			"the image is %d bytes, over the limit of %d", len(data), lim.MaxBytes)
	}
	format, ok := Sniff(data)
	if !ok {
		return nil, "", reply.Errorf(http.StatusUnsupportedMediaType, reply.CodeNotImage,
			"not a JPEG or PNG image")
	}
	if format == PNG {
		img, err := decodeStd(data, lim, PNG, png.DecodeConfig, png.Decode)
		return img, format, err
	}
	img, err := jc.decode(data, lim)
	return img, format, err
}

// decodeStd decodes with a standard library decoder, its header first.
func decodeStd(data []byte, lim Limits, format Format,
	decodeConfig func(io.Reader) (image.Config, error), decode func(io.Reader) (image.Image, error)) (image.Image, error) {
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, notReadable(format, err)
	}
	if err := checkSize(format, cfg.Width, cfg.Height, lim); err != nil {
		return nil, err
	}
	img, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, notReadable(format, err)
	}
	return img, nil
}

// checkSize refuses an image whose header says it is empty or over the pixel limit.
func checkSize(format Format, w, h int, lim Limits) error {
	if w <= 0 || h <= 0 {
		return reply.Errorf(http.StatusUnsupportedMediaType, reply.CodeNotImage,
			"the %s image is empty (%d×%d)", format, w, h)
	}
	if px := int64(w) * int64(h); lim.MaxPixels > 0 && px > lim.MaxPixels {
		return reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge,
			"the image is %d×%d = %d pixels, over the limit of %d", w, h, px, lim.MaxPixels)
	}
	return nil
}

func notReadable(format Format, err error) error {
	return reply.Wrap(http.StatusUnsupportedMediaType, reply.CodeNotImage,
		fmt.Sprintf("not a readable %s image: %v", format, err), err)
}

// Encode writes img in format: JPEG at quality 90 with 4:2:0 chroma, PNG at the
// fastest compression.
func Encode(w io.Writer, img image.Image, format Format) error {
	if format == JPEG {
		return jpegCodec().encode(w, img)
	}
	return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
}
