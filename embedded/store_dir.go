package embedded

import (
	"fmt"
	"path/filepath"
	"sync"
)

// dirsInUse holds the absolute store directories of this process's running
// servers. nats-server does not lock its store directory, and two servers
// writing the same one corrupt each other's streams.
var dirsInUse sync.Map // string → struct{}

// claimStoreDir reserves dir for one server until release is called. It
// guards only against servers of this process, not other processes.
func claimStoreDir(dir string) (release func(), err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: store dir %q: %w", dir, err)
	}
	if _, loaded := dirsInUse.LoadOrStore(abs, struct{}{}); loaded {
		return nil, fmt.Errorf("embedded: store dir %q is in use by another server in this process", dir)
	}
	return func() { dirsInUse.Delete(abs) }, nil
}
