package faces

import (
	"image"
	"image/color"
	"image/draw"
	"os"
	"path/filepath"
	"testing"
	"time"

	xdraw "golang.org/x/image/draw"

	"github.com/servebench/servebench/service/faces/split"
	"github.com/servebench/servebench/service/imagein"
)

func grey(ds *Dataset, i int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, ds.Width, ds.Height))
	for j, v := range ds.X[i] {
		g.Pix[j] = uint8(v)
	}
	return g
}

// inPhoto puts face, scaled by s, into a larger mid-grey photo at (x, y).
func inPhoto(face image.Image, s float64, w, h, x, y int) *image.RGBA {
	photo := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(photo, photo.Bounds(), image.NewUniform(color.RGBA{110, 110, 110, 255}), image.Point{}, draw.Src)
	fb := face.Bounds()
	dst := image.Rect(x, y, x+int(float64(fb.Dx())*s), y+int(float64(fb.Dy())*s))
	xdraw.CatmullRom.Scale(photo, dst, face, fb, xdraw.Src, nil)
	return photo
}

func TestFaceRegionCropAsIs(t *testing.T) {
	for _, size := range []image.Point{{92, 112}, {184, 224}, {93, 112}} {
		f, err := FaceRegion(image.NewGray(image.Rectangle{Max: size}), 92, 112)
		if err != nil || f.Detected || f.Box != [4]int{0, 0, size.X, size.Y} {
			t.Errorf("%v: %+v %v, want the whole image undetected", size, f, err)
		}
	}
}

func TestFaceRegionNoFace(t *testing.T) {
	blank := image.NewGray(image.Rect(0, 0, 640, 480))
	if _, err := FaceRegion(blank, 92, 112); err != ErrNoFace {
		t.Errorf("blank photo: %v, want ErrNoFace", err)
	}
}

func TestFaceRegionFindsFaces(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(dataDir(t), "images", "zidane.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := imagein.Decode(data, imagein.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := FaceRegion(img, 92, 112)
	if err != nil {
		t.Fatal(err)
	}
	// Two people: Ancelotti's face about x 900–1010 y 100–250, Zidane's about
	// x 420–530 y 280–430 (1280×720). The best face must be one of them.
	cx, cy := (f.Box[0]+f.Box[2])/2, (f.Box[1]+f.Box[3])/2
	onA := cx > 850 && cx < 1060 && cy > 80 && cy < 280
	onZ := cx > 380 && cx < 570 && cy > 250 && cy < 470
	if !f.Detected || !(onA || onZ) {
		t.Errorf("face %+v (centre %d,%d) is on neither face", f, cx, cy)
	}
	w, h := f.Box[2]-f.Box[0], f.Box[3]-f.Box[1]
	if r := float64(w) / float64(h); r < 0.75 || r > 0.9 {
		t.Errorf("box %d×%d does not have the training aspect 92:112", w, h)
	}
}

// Test faces of ORL put into a larger photo are found and, mostly, still named
// right after the detector's crop.
func TestPredictAfterDetection(t *testing.T) {
	ds, m, _ := trainedORL(t)
	_, test, _ := split.TrainTest(len(ds.X), 0.25, 42)
	found, right, n := 0, 0, 8
	start := time.Now()
	for _, i := range test[:n] {
		photo := inPhoto(grey(ds, i), 2, 480, 360, 140, 60)
		f, err := FaceRegion(photo, m.Width, m.Height)
		if err != nil {
			continue
		}
		found++
		if f, err = m.Refine(photo, f); err != nil {
			t.Fatal(err)
		}
		p, err := m.Predict(Features(photo, image.Rect(f.Box[0], f.Box[1], f.Box[2], f.Box[3]), m.Width, m.Height))
		if err != nil {
			t.Fatal(err)
		}
		if p.Label == ds.Y[i] {
			right++
		}
	}
	t.Logf("detected %d of %d, named %d right in %v", found, n, right, time.Since(start))
	if found < n-1 || right < found-1 {
		t.Errorf("detected %d of %d faces, named %d right", found, n, right)
	}
}
