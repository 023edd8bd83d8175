package inspect

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// cursor is where a list goes on from: what a page token holds besides
// the state and filters it was made for. Listers get it from [Inspector.Tasks]
// and return the next page's.
type cursor struct {
	// After is the sequence of the last message read; 0 starts the list.
	After uint64 `json:"a,omitempty"`
	// Key is a lister's own place, for a list that is not in stream order.
	Key string `json:"k,omitempty"`
	// Counts holds, per task type ("<queue>.<task>"), the pending tasks
	// counted up to After, so that the pending list's next page tells
	// positions without asking the server.
	Counts map[string]uint64 `json:"c,omitempty"`
	// UpTo bounds the list to the messages at or below this sequence (a
	// bulk action's plan); 0 leaves it open. Not carried in page tokens.
	UpTo uint64 `json:"-"`
}

// token is what a page token carries: its list, the fingerprint of its
// filters, and the cursor.
type token struct {
	State  State  `json:"s"`
	Filter string `json:"f"`
	cursor
}

// tokenSum is the length of the checksum that ends a token.
const tokenSum = 8

// token encodes the page token of the page of q at c.
func (q Query) token(c cursor) string {
	b, _ := json.Marshal(token{State: q.State, Filter: q.fingerprint(), cursor: c})
	return seal(b)
}

// cursor reads q.Token, refusing one made for another list or filters.
func (q Query) cursor() (cursor, error) {
	if q.Token == "" {
		return cursor{}, nil
	}
	b, ok := unseal(q.Token)
	var t token
	if !ok || json.Unmarshal(b, &t) != nil {
		return cursor{}, fmt.Errorf("%w: page token %q is malformed: pass Page.Next as it came, or drop the token to start the list again", ErrInvalidQuery, q.Token)
	}
	if t.State != q.State {
		return cursor{}, fmt.Errorf("%w: page token is from the %s list, not %s: drop the token to start the %s list", ErrInvalidQuery, t.State, q.State, q.State)
	}
	if t.Filter != q.fingerprint() {
		return cursor{}, fmt.Errorf("%w: page token is from a query with other filters (queue, task, since, until, where): keep the filters of the first page, or drop the token to start again with these", ErrInvalidQuery)
	}
	return t.cursor, nil
}

// fingerprint identifies q's list and filters: the state, queue, task,
// time range and match, not the page size or scan bound.
func (q Query) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00", q.State, q.Queue, q.Task, stamp(q.Since), stamp(q.Until))
	if q.Where != nil {
		fmt.Fprintf(h, "%s\x00%s", q.Where.Path, q.Where.Value)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:9])
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// seal encodes b with a checksum, in URL-safe base64: a token mangled in
// transit or edited by hand is refused instead of read. (It is not a
// signature: whoever may list and act may as well forge a token, which
// could only select what a query selects.)
func seal(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(append(b, sum[:tokenSum]...))
}

// unseal reverses seal; ok is false for what seal did not make.
func unseal(s string) (b []byte, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < tokenSum {
		return nil, false
	}
	b, sum := raw[:len(raw)-tokenSum], raw[len(raw)-tokenSum:]
	want := sha256.Sum256(b)
	return b, binary.BigEndian.Uint64(sum) == binary.BigEndian.Uint64(want[:tokenSum])
}
