package data

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	// The formats Decode reads: PNG, JPEG and GIF from the standard
	// library; BMP, TIFF and WebP from golang.org/x/image.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"

	"golang.org/x/image/tiff"
)

// MaxPixels bounds the images DecodeImageFile accepts (a 50-megapixel photo),
// checked from the header before the pixels are decoded: a small file can
// declare an image whose pixels would not fit in memory.
const MaxPixels = 50_000_000

// ImageExtensions lists the file name extensions ImageFiles collects.
var ImageExtensions = []string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}

// MaxImageFileBytes bounds the size of an image file DecodeImageFile reads.
const MaxImageFileBytes = 256 << 20

// DecodeImageFile reads an image file of any supported format (the
// format is found from the content, not the name). Every error names the
// file.
func DecodeImageFile(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() || fi.Size() > MaxImageFileBytes {
		return nil, fmt.Errorf("%s: not an image file of at most %d MiB", path, MaxImageFileBytes>>20)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return DecodeImage(data, path)
}

// DecodeImage decodes an image held in data; name is for error messages.
// The size the header declares is checked before the pixels are decoded.
func DecodeImage(data []byte, name string) (image.Image, error) {
	if isTIFF(data) {
		return decodeTIFF(data, name)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: not an image resgo can read (%v; formats: PNG, JPEG, GIF, BMP, TIFF, WebP)", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%s: a %dx%d image: more than the %d pixels resgo reads", name, cfg.Width, cfg.Height, MaxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: damaged %s image: %v", name, format, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%s: damaged %s image: header says %dx%d, pixels are %dx%d", name, format, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	return img, nil
}

// isTIFF reports whether data starts with a TIFF header (little- or
// big-endian).
func isTIFF(data []byte) bool {
	return bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*"))
}

// decodeTIFF decodes a TIFF from an io.ReaderAt. Through image.Decode the
// tiff package gets a plain reader and buffers up to whatever offset the
// file names: a 762-byte file naming offset 4 GB made it allocate 4 GB
// (found by FuzzDecodeImage). With a ReaderAt it reads in place, and an
// offset past the end is an error.
func decodeTIFF(data []byte, name string) (image.Image, error) {
	cfg, err := tiff.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: not an image resgo can read (tiff: %v)", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%s: a %dx%d image: more than the %d pixels resgo reads", name, cfg.Width, cfg.Height, MaxPixels)
	}
	img, err := tiff.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: damaged tiff image: %v", name, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%s: damaged tiff image: header says %dx%d, pixels are %dx%d", name, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	return img, nil
}

// ImageFiles expands paths: a file stays as it is, a directory gives the
// image files (by extension) in it and below it, sorted.
func ImageFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && IsImageName(d.Name()) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no image files (%s)", p, strings.Join(ImageExtensions, ", "))
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// IsImageName reports whether a file name has an image extension.
func IsImageName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range ImageExtensions {
		if ext == e {
			return true
		}
	}
	return false
}
