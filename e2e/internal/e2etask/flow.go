package e2etask

import (
	"sync"
	"time"

	"github.com/jetq/jetq/tasks"
)

// MemberArgs is the payload of a chord member.
type MemberArgs struct {
	Chord int `json:"chord"`
	Index int `json:"index"`
	// FailPercent is the chance, in per cent, that an attempt fails.
	FailPercent int `json:"fail_pct"`
	// WorkMillis is how long the handler works.
	WorkMillis int `json:"work_ms"`
}

// MemberResult is a chord member's result.
type MemberResult struct {
	Chord int `json:"chord"`
	Index int `json:"index"`
	// Value is MemberValue(Chord, Index).
	Value int `json:"value"`
}

// MemberValue is the value member index of chord returns, so that the
// callback can tell every result and its place.
func MemberValue(chord, index int) int { return chord*100 + index }

// retrying is the retry policy of the flow scenario's tasks: as Work's,
// many attempts so that faults and random failures never dead-letter one,
// a short backoff and a 2 s ack wait that brings a killed worker's tasks
// back soon.
func retrying() []tasks.Option {
	return []tasks.Option{tasks.WithMaxAttempts(50), tasks.WithTimeout(30 * time.Second), tasks.WithAckWait(2 * time.Second),
		tasks.WithBackoff(tasks.Backoff{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond})}
}

// Member is a chord member: it fails at random and returns its
// MemberResult. The flow definitions are made at first use, not at
// init, so that the other scenarios of this package run on a build whose
// result definitions do not.
var Member = sync.OnceValue(func() *tasks.ResultDefinition[MemberArgs, MemberResult] {
	return tasks.DefineResult[MemberArgs, MemberResult]("e2e.member", retrying()...)
})

// ChordArgs is the payload of a chord's callback.
type ChordArgs struct {
	Chord   int `json:"chord"`
	Members int `json:"members"`
}

// ChordDone is a chord's callback: it reads the members' results. It
// returns their sum, so that its outcome is kept and a redelivery of a
// callback already done is not run again.
var ChordDone = sync.OnceValue(func() *tasks.ResultDefinition[ChordArgs, int] {
	return tasks.DefineResult[ChordArgs, int]("e2e.chord-done", retrying()...)
})

// EchoArgs is the payload of Echo.
type EchoArgs struct {
	N int `json:"n"`
	// WorkMillis is how long the handler works before it returns.
	WorkMillis int `json:"work_ms"`
}

// Echo returns N doubled after WorkMillis.
var Echo = sync.OnceValue(func() *tasks.ResultDefinition[EchoArgs, int] {
	return tasks.DefineResult[EchoArgs, int]("e2e.echo", tasks.WithAckWait(5*time.Second))
})
