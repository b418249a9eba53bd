// Package checkpoint saves and restores training state for the ResNet
// trainer in safetensors files.
//
// A checkpoint at step S is a single file <dir>/<prefix>-<S>.safetensors
// holding every tensor the trainer needs to resume (weights, moving
// averages, optimizer slots, under names the caller picks) plus string
// metadata. Keeping everything in one file makes a checkpoint consistent
// by construction: there is no index/data pair that can disagree.
//
// Files are written atomically (temp file, fsync, rename, fsync of the
// directory), so a crash leaves either the old set of checkpoints or the
// new one, never a half-written file under a checkpoint name. Readers
// still validate every byte, because files may come from older
// non-atomic writers or damaged disks: the layout, a CRC-32C checksum of
// the whole content kept in the metadata, finite values, and the step in
// the file's name. Store.LoadLatestGood falls back to older checkpoints
// when the newest one does not validate. Nothing holding NaN or Inf is
// ever saved.
//
// A directory has one writer at a time: Store.Lock takes an advisory
// flock(2) lock that the kernel releases however its holder exits.
//
// The safetensors format is implemented here by hand (standard library
// only): an 8-byte little-endian header length, a JSON header, then the
// raw little-endian tensor bytes. Only F32 tensors are supported.
package checkpoint
