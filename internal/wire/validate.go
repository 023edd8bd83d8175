package wire

import "strings"

// ValidateService is the name of the NATS micro service every worker runs to
// check payloads for the tasks it serves, as `jetq enqueue` asks it to.
const ValidateService = "jetq-validate"

// ValidateVersion is the version of the validate service's protocol: a
// request's body is the encoded payload; a payload the task's decoder or
// Validate method refuses is answered with a micro error (headers
// Nats-Service-Error and Nats-Service-Error-Code 400) giving the reason,
// one it accepts with an empty body.
const ValidateVersion = "1.0.0"

// ValidateRefused is the error code of a refused payload.
const ValidateRefused = "400"

// ValidateSubject is where the workers of the task name on queue answer
// validate requests, "jetq.validate.<queue>.<name>".
func (n Names) ValidateSubject(queue, name string) string {
	return n.Prefix() + ".validate." + queue + "." + name
}

// ValidateEndpoint is the micro endpoint name of the task name on queue:
// the name's dots become underscores, as endpoint names take no dots.
func ValidateEndpoint(queue, name string) string {
	return queue + "-" + strings.ReplaceAll(name, ".", "_")
}
