package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LockFile is the advisory lock a writer holds on a checkpoint directory.
// It is never deleted: removing it on exit would let two later writers
// lock two different files of the same name.
const LockFile = ".lock"

// ErrLocked is returned (wrapped) by Lock when another process holds the
// directory.
var ErrLocked = errors.New("checkpoint directory is in use")

// DirLock is a held lock on a checkpoint directory; Unlock releases it.
// The operating system releases it too when the process exits, however
// it exits (kill -9 included), so a stale lock file never blocks anyone.
type DirLock struct {
	f *os.File
}

// Lock takes the directory's writer lock, creating the directory if
// needed, and records who holds it (pid, start time, command line) for
// the message a second writer gets. It fails at once, wrapping ErrLocked
// and naming the holder, when another process has the lock.
func (s *Store) Lock() (*DirLock, error) {
	dir := s.dir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("checkpoint directory %s: cannot create its lock file: %w", dir, err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if !errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("checkpoint directory %s: locking %s: %w", dir, path, err)
		}
		holder, _ := os.ReadFile(path)
		who := strings.TrimSpace(string(holder))
		if who == "" {
			who = "another process"
		}
		return nil, fmt.Errorf("%w: %s is being written by %s; stop that process first, or use another --checkpoint-dir",
			ErrLocked, dir, who)
	}
	info := fmt.Sprintf("process %d (%s), started %s\n", os.Getpid(), strings.Join(os.Args, " "),
		time.Now().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(info), 0) // who holds it is for messages only
	}
	return &DirLock{f: f}, nil
}

// Unlock releases the lock. It is safe to call more than once.
func (l *DirLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the lock
	l.f = nil
	return err
}
