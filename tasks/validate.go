package tasks

import "fmt"

// Validator is implemented by payload types that check themselves. A payload
// whose type (or pointer type) has this method is validated at enqueue, where a
// failure refuses the task, and again before the handler runs, where a failure
// dead-letters it with reason invalid_payload.
type Validator interface {
	Validate() error
}

// hasValidate reports whether a T payload is a Validator, by value or pointer.
func hasValidate[T any]() bool {
	var zero T
	if _, ok := any(zero).(Validator); ok {
		return true
	}
	_, ok := any(&zero).(Validator)
	return ok
}

func validate[T any](task string, v T) error {
	var err error
	switch x := any(v).(type) {
	case Validator:
		err = x.Validate()
	default:
		if p, ok := any(&v).(Validator); ok {
			err = p.Validate()
		}
	}
	if err != nil {
		return fmt.Errorf("%w: task %q: %w", ErrInvalidPayload, task, err)
	}
	return nil
}
