package embedded

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// lockFileName is the file, inside a store directory, that a running server
// holds an exclusive lock on.
const lockFileName = "jetq.lock"

// nameFileName is the file, inside a store directory, that keeps the name
// of the server that uses it.
const nameFileName = "jetq.server_name"

// dirsInUse holds the absolute store directories of this process's running
// servers. nats-server does not lock its store directory, and two servers
// writing the same one corrupt each other's streams.
var dirsInUse sync.Map // string → struct{}

// claimStoreDir reserves dir for one server until release is called: it
// creates dir if needed and takes an exclusive lock on dir/jetq.lock, so
// that a second server — of this process or of another one — fails before
// it opens the store. On platforms without flock(2) only servers of this
// process are kept out. Errors wrap [ErrStoreDirLocked] when another server
// holds dir.
func claimStoreDir(dir string) (release func(), err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: store dir %q: %w", dir, err)
	}
	if _, loaded := dirsInUse.LoadOrStore(abs, struct{}{}); loaded {
		return nil, fmt.Errorf("%w: %q is in use by another server in this process; shut that server down first or use another store dir", ErrStoreDirLocked, dir)
	}
	unlock, err := lockStoreDir(dir, abs)
	if err != nil {
		dirsInUse.Delete(abs)
		return nil, err
	}
	return func() { unlock(); dirsInUse.Delete(abs) }, nil
}

// lockStoreDir creates dir and takes the exclusive lock on its lock file,
// writing this process's id into it.
func lockStoreDir(dir, abs string) (unlock func(), err error) {
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("embedded: create store dir %q: %w", dir, err)
	}
	path := filepath.Join(abs, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("embedded: open lock file of store dir %q: %w", dir, err)
	}
	locked, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded: lock store dir %q (%s): %w", dir, path, err)
	}
	if !locked {
		holder := ""
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				holder = " (pid " + strconv.Itoa(pid) + ")"
			}
		}
		f.Close()
		return nil, fmt.Errorf("%w: %q is in use by another server%s holding %s; stop that server first or use another store dir",
			ErrStoreDirLocked, dir, holder, path)
	}
	// The id is informational only: the lock is what keeps others out.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		_ = f.Truncate(0)
		unlockFile(f)
		f.Close()
	}, nil
}

// storeServerName returns the server name kept in dir/jetq.server_name,
// choosing one and writing it there on the first start. The caller holds
// dir's lock.
func storeServerName(dir string) (string, error) {
	path := filepath.Join(dir, nameFileName)
	b, err := os.ReadFile(path)
	if err == nil {
		name := strings.TrimSpace(string(b))
		if name == "" || strings.ContainsFunc(name, isSpace) {
			return "", fmt.Errorf("%w: store dir %q: %s holds %q, not a server name; fix or delete the file, or give a name", ErrInvalidOption, dir, path, name)
		}
		return name, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("embedded: store dir %q: read the server name: %w", dir, err)
	}
	name := defaultNamePrefix + randomSuffix()
	if err := os.WriteFile(path, []byte(name+"\n"), 0o640); err != nil {
		return "", fmt.Errorf("embedded: store dir %q: keep the server name: %w", dir, err)
	}
	return name, nil
}
