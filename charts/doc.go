// Package charts draws training curves as PNG and SVG images: the error
// curves of several runs on one set of axes, in the style of He et al.'s
// Figure 4 (thin lines for training error, bold lines for validation
// error, one colour per model).
package charts
