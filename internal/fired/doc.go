// Package fired keeps, for a while, which delivery of each delayed task and
// periodic tick a worker ran, so that a second copy of one firing never
// runs. The server's scheduler fires a task without its Nats-Msg-Id, so the
// work stream cannot drop a copy that its sourcing stores twice after a
// leader change (issue 24); a worker claims the task's ID here before it
// runs a delivery that the scheduler fired. Only fired tasks pay for it:
// one key-value create, a read as well for a redelivery.
package fired
