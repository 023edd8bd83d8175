package tasks

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// HeaderKey is the header that holds a task's key (producer.WithKey): the
// tenant, customer or account whose work it is, which the per-key limits
// of its definition count by.
const HeaderKey = "Jetq-Key"

// MaxKeyLen bounds a task key's length in bytes.
const MaxKeyLen = 128

// ErrInvalidKey is wrapped by the error for a task key that is empty, too
// long, not UTF-8 or holds a control character.
var ErrInvalidKey = errors.New("tasks: invalid task key")

// ValidateKey checks a task key: 1 to [MaxKeyLen] bytes of UTF-8 without
// control characters. Its error wraps [ErrInvalidKey] and says what is
// wrong.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: the key is empty; give the tenant, customer or account the task belongs to", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: the key is %d bytes, more than %d; use a shorter ID or a hash of it", ErrInvalidKey, len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: the key %q is not valid UTF-8", ErrInvalidKey, key)
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: the key %q holds the control character %U", ErrInvalidKey, key, r)
		}
	}
	return nil
}

// KeyOf returns the key of the task with header h (producer.WithKey), ""
// for a task without one.
func KeyOf(h Header) string { return h.Get(HeaderKey) }
