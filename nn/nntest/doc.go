// Package nntest checks layers' hand-written gradients against central
// finite differences of a scalar loss.
package nntest
