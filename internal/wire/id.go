package wire

import (
	"encoding/hex"
	"math/rand/v2"
	"sync"
	"time"
)

// ids hands out UUIDv7 task IDs (RFC 9562): a millisecond timestamp, then a
// 12-bit counter that keeps IDs from one process ordered within a millisecond,
// then 62 random bits. IDs therefore sort by enqueue time.
var ids struct {
	sync.Mutex
	ms  int64
	seq uint16
}

// NewID returns a new task ID, a UUIDv7 in its 36-character text form.
// It is safe for concurrent use.
func NewID() string {
	ms := time.Now().UnixMilli()
	ids.Lock()
	switch {
	case ms > ids.ms:
		ids.ms, ids.seq = ms, uint16(rand.Uint32()&0x1ff) // start low: room to count up
	case ids.seq < 0xfff:
		ms = ids.ms
		ids.seq++
	default: // 4096 IDs in one millisecond: borrow the next one
		ids.ms++
		ms, ids.seq = ids.ms, 0
	}
	seq := ids.seq
	ids.Unlock()

	var u [16]byte
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | byte(seq>>8)
	u[7] = byte(seq)
	r := rand.Uint64()
	for i := 8; i < 16; i++ {
		u[i] = byte(r >> (8 * (15 - i)))
	}
	u[8] = u[8]&0x3f | 0x80 // variant 10

	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return string(out[:])
}
