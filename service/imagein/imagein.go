// Package imagein decodes untrusted images under limits: only JPEG and PNG, at
// most a given number of bytes and pixels. The header is read first
// (image.DecodeConfig), so a decompression bomb is refused before any pixel
// memory is allocated.
package imagein

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
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
	if lim.MaxBytes > 0 && int64(len(data)) > lim.MaxBytes {
		return nil, "", reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge,
			"the image is %d bytes, over the limit of %d", len(data), lim.MaxBytes)
	}
	format, ok := Sniff(data)
	if !ok {
		return nil, "", reply.Errorf(http.StatusUnsupportedMediaType, reply.CodeNotImage,
			"not a JPEG or PNG image")
	}
	decodeConfig, decode := jpeg.DecodeConfig, jpeg.Decode
	if format == PNG {
		decodeConfig, decode = png.DecodeConfig, png.Decode
	}
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, "", reply.Wrap(http.StatusUnsupportedMediaType, reply.CodeNotImage,
			fmt.Sprintf("not a readable %s image: %v", format, err), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", reply.Errorf(http.StatusUnsupportedMediaType, reply.CodeNotImage,
			"the %s image is empty (%d×%d)", format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); lim.MaxPixels > 0 && px > lim.MaxPixels {
		return nil, "", reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge,
			"the image is %d×%d = %d pixels, over the limit of %d", cfg.Width, cfg.Height, px, lim.MaxPixels)
	}
	img, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", reply.Wrap(http.StatusUnsupportedMediaType, reply.CodeNotImage,
			fmt.Sprintf("not a readable %s image: %v", format, err), err)
	}
	return img, format, nil
}

// Encode writes img in format; JPEG at quality 90.
func Encode(w io.Writer, img image.Image, format Format) error {
	if format == JPEG {
		return jpeg.Encode(w, img, &jpeg.Options{Quality: 90})
	}
	return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
}
