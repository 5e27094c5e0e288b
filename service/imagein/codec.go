package imagein

import (
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/servebench/servebench/service/imagein/turbojpeg"
	"github.com/servebench/servebench/service/nativelib"
	"github.com/servebench/servebench/service/reply"
)

// Names of the JPEG codecs, as Codec reports them.
const (
	CodecTurboJPEG = "turbojpeg" // libjpeg-turbo through purego
	CodecGo        = "go"        // image/jpeg
)

// jpegQuality is the quality annotated JPEGs are written at.
const jpegQuality = 90

// codec decodes (header and limits first) and encodes JPEG.
type codec interface {
	name() string
	decode(data []byte, lim Limits) (image.Image, error)
	encode(w io.Writer, img image.Image) error
}

// goCodec is image/jpeg: about 7 ms to decode and 10 ms to encode dog.jpg here, more
// than ONNX Runtime's whole network, hence libjpeg-turbo when it loads. Its encoder
// writes 4:2:0 chroma.
type goCodec struct{}

func (goCodec) name() string { return CodecGo }

func (goCodec) decode(data []byte, lim Limits) (image.Image, error) {
	return decodeStd(data, lim, JPEG, jpeg.DecodeConfig, jpeg.Decode)
}

func (goCodec) encode(w io.Writer, img image.Image) error {
	return jpeg.Encode(w, img, &jpeg.Options{Quality: jpegQuality})
}

// turboCodec is libjpeg-turbo. It decodes to *image.RGBA, the layout the letterbox,
// the drawing and its own encoder all read directly.
type turboCodec struct{ c *turbojpeg.Codec }

func (turboCodec) name() string { return CodecTurboJPEG }

func (t turboCodec) decode(data []byte, lim Limits) (image.Image, error) {
	h, err := t.c.Header(data)
	// JPEGs that libjpeg-turbo's header reader refuses (4:1:0 chroma, a warning in
	// the header) or that it cannot turn into RGB (CMYK, YCCK) go to image/jpeg, which
	// reads some of them: nothing the service accepted before is refused now.
	if err != nil || h.Colorspace == turbojpeg.CMYK || h.Colorspace == turbojpeg.YCCK {
		return goCodec{}.decode(data, lim)
	}
	if err := checkSize(JPEG, h.Width, h.Height, lim); err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, h.Width, h.Height))
	if err := t.c.DecodeRGBA(data, img); err != nil {
		var tj *turbojpeg.Error
		if errors.As(err, &tj) && tj.Op == "tjDecompress2" {
			if tj.Warning {
				// libjpeg stops at its first warning, which includes slips it would
				// read past (extraneous bytes before a marker) as well as truncation:
				// image/jpeg decides, so a JPEG the service read before still reads
				// and a truncated one is still refused, never half decoded.
				return goCodec{}.decode(data, lim)
			}
			return nil, notReadable(JPEG, err)
		}
		return nil, reply.Wrap(http.StatusInternalServerError, reply.CodeInternal, "could not decode the JPEG image", err)
	}
	return img, nil
}

func (t turboCodec) encode(w io.Writer, img image.Image) error {
	if m, ok := img.(*image.RGBA); ok {
		return t.c.EncodeRGBA(w, m, jpegQuality)
	}
	// Other layouts do not occur on the service's path (it draws on RGBA).
	return goCodec{}.encode(w, img)
}

// The process's JPEG codec, chosen once.
var chosen struct {
	once  sync.Once
	codec codec
	err   error
}

// LoadCodec chooses the JPEG codec now, if it has not been chosen yet, and logs the
// choice with log: libjpeg-turbo when libturbojpeg.so.0 loads (turbojpeg.Library says
// where it is looked for), else Go's image/jpeg, with the reason. It is an error when
// SERVEBENCH_TURBOJPEG_LIB names a library that does not load: a path set on purpose
// that does not work is a mistake to report at start. JPEG still works after that
// error, through image/jpeg. The service's start calls it; without that call, the
// first JPEG chooses, logging to slog's default logger.
func LoadCodec(log *slog.Logger) error {
	chosen.once.Do(func() { chosen.codec, chosen.err = chooseCodec(turbojpeg.Library, log) })
	return chosen.err
}

// Codec names the JPEG codec in use, CodecTurboJPEG or CodecGo, choosing it if that
// has not been done yet.
func Codec() string { return jpegCodec().name() }

func jpegCodec() codec {
	_ = LoadCodec(slog.Default()) // an error was logged and leaves image/jpeg in use
	return chosen.codec
}

// chooseCodec loads lib and picks the codec, logging which and why.
func chooseCodec(lib nativelib.Library, log *slog.Logger) (codec, error) {
	start := time.Now()
	c, err := turbojpeg.Open(lib)
	if err == nil {
		log.Info("JPEG codec: libjpeg-turbo", "codec", CodecTurboJPEG, "library", c.Path(),
			"load_ms", float64(time.Since(start).Microseconds())/1000)
		return turboCodec{c}, nil
	}
	if os.Getenv(lib.Env) != "" {
		log.Error("JPEG codec: Go's image/jpeg, the library "+lib.Env+" names does not load", "codec", CodecGo, "error", err)
		return goCodec{}, fmt.Errorf("JPEG codec: %w", err)
	}
	log.Warn("JPEG codec: Go's image/jpeg (decode and encode take several times longer than with libjpeg-turbo)",
		"codec", CodecGo, "reason", err.Error())
	return goCodec{}, nil
}
