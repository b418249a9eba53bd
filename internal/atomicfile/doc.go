// Package atomicfile writes files so that a crash or a failed write never
// leaves a reader with a half-written file: the data goes to a temp file
// in the same directory, is synced, and is renamed over the target.
package atomicfile
