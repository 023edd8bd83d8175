package status

import (
	"fmt"
	"strings"
	"time"
)

// TTL is how long a status is kept after its last update.
const TTL = 7 * 24 * time.Hour

// Key is the bucket key of a task ID: bytes a key may not hold are escaped
// as =XX, so "welcome:42" is "welcome=3A42".
func Key(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '/':
			b.WriteByte(c)
		default: // '=' and '.' too: '.' would make key tokens
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String()
}
