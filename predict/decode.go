package predict

import (
	"image"

	"github.com/resgo/resgo/data"
)

// DecodeFile reads an image file (PNG, JPEG, GIF, BMP, TIFF or WebP,
// found from the content); every error names the file.
func DecodeFile(path string) (image.Image, error) { return data.DecodeImageFile(path) }

// Decode decodes an image file held in memory; name is for errors.
func Decode(b []byte, name string) (image.Image, error) { return data.DecodeImage(b, name) }

// ImageFiles expands paths: a file stays as it is, a directory gives the
// image files in it and below it, sorted.
func ImageFiles(paths []string) ([]string, error) { return data.ImageFiles(paths) }
