package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// Write creates dir/name with the contents produced by write, so that
// readers (and a crash at any point) see either the old file or the
// complete new one. The temp file, in dir, is named tempPrefix followed by
// random characters; on failure it is removed.
func Write(dir, name, tempPrefix string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close() // may already be closed; the error is irrelevant then
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	// CreateTemp makes 0600 files; these are ordinary data files.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	// Without this fsync the rename can reach disk before the data, and a
	// power loss leaves a correctly named but empty or partial file.
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	// Make the rename itself durable. After this point the new file is in
	// place, so a sync failure must not remove tmp (it no longer exists).
	if serr := syncDir(dir); serr != nil {
		return fmt.Errorf("sync directory: %w", serr)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	err = d.Sync()
	// Some filesystems and platforms cannot fsync a directory; there is
	// nothing better to do there, so do not fail the save for it.
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EBADF) {
		return nil
	}
	return err
}
