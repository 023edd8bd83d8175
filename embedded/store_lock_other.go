//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package embedded

import "os"

// tryLock always succeeds on platforms without flock(2): only servers of
// this process are kept out of a store dir there, by claimStoreDir.
func tryLock(*os.File) (bool, error) { return true, nil }

// unlockFile does nothing where tryLock takes no lock.
func unlockFile(*os.File) {}
