package imagein

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/png"
	"math"
	"sync"
	"testing"

	"github.com/servebench/servebench/service/config"
)

// worstInputs are the costliest inputs the service's default limits let through: a
// square image of the largest allowed area, uniform so that it is small on the wire.
// "jpeg" and "png16" decode; "jpeg-cut" and "png16-cut" are their first bytes only
// (a few hundred bytes declaring 40 megapixels), which decoders refuse only after
// allocating, and for libjpeg-turbo after filling, the whole image.
var worstInputs = sync.OnceValues(func() (map[string][]byte, error) {
	side := int(math.Sqrt(float64(config.Defaults.MaxImagePixels)))
	var j bytes.Buffer
	if err := Encode(&j, image.NewRGBA(image.Rect(0, 0, side, side)), JPEG); err != nil {
		return nil, err
	}
	// 16 bits per channel is the layout image/png decodes to the most memory (8 bytes a
	// pixel).
	var p bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&p,
		image.NewNRGBA64(image.Rect(0, 0, side, side))); err != nil {
		return nil, err
	}
	return map[string][]byte{
		"jpeg":      j.Bytes(),
		"jpeg-cut":  cutAfterScanStart(j.Bytes()),
		"png16":     p.Bytes(),
		"png16-cut": p.Bytes()[:33+8+64], // signature, IHDR, 64 bytes of the first IDAT
	}, nil
})

// cutAfterScanStart keeps a JPEG's headers and the first 16 bytes of its scan.
func cutAfterScanStart(j []byte) []byte {
	for i := 2; i+4 < len(j); {
		n := int(binary.BigEndian.Uint16(j[i+2:]))
		if j[i+1] == 0xda { // start of scan
			return bytes.Clone(j[:min(len(j), i+2+n+16)])
		}
		i += 2 + n
	}
	return nil
}

// BenchmarkWorstDecode measures what decoding one image can cost within the service's
// default limits (config.Defaults: MaxImageBytes, MaxImagePixels), per codec, with the
// input's size. A decode runs on one goroutine, so under GOMAXPROCS=1 ns/op is its CPU
// time; B/op is the memory it allocated (the pixels are Go memory with either codec).
// BenchmarkPredictWorst in package api times whole answers on the same images:
//
//	GOMAXPROCS=1 go test -run '^$' -bench WorstDecode -benchtime 5x ./imagein/
func BenchmarkWorstDecode(b *testing.B) {
	inputs, err := worstInputs()
	if err != nil {
		b.Fatal(err)
	}
	lim := Limits{MaxBytes: config.Defaults.MaxImageBytes, MaxPixels: config.Defaults.MaxImagePixels}
	all := codecs(b)
	for _, in := range []string{"jpeg", "jpeg-cut", "png16", "png16-cut"} {
		data := inputs[in]
		for _, name := range []string{CodecTurboJPEG, CodecGo} {
			if in == "png16" || in == "png16-cut" {
				if name != CodecGo {
					continue // PNG has one decoder
				}
				name = "image/png"
			}
			b.Run(in+"/"+name, func(b *testing.B) {
				jc := all[name]
				if jc == nil {
					jc = all[CodecGo]
				}
				b.ReportAllocs()
				for b.Loop() {
					_, _, err := decode(data, lim, jc)
					if (err == nil) != (in == "jpeg" || in == "png16") {
						b.Fatalf("%s: %v", in, err)
					}
				}
				b.ReportMetric(float64(len(data)), "input-B")
			})
		}
	}
}
