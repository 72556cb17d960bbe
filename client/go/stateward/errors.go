package stateward

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ReasonTrailer is the trailer in which the server sends the stable reason of a refusal.
const ReasonTrailer = "stateward-reason"

// Reasons set by the client itself (the server's are e.g. "LOCKED_BY_OTHER", "STALE_LOCK_ID",
// "LEASE_EXPIRED", "SESSION_GONE", "VERSION_MISMATCH", "INVALID_FIELD", "ITEM_TOO_LARGE",
// "MEMORY_BUDGET", "TOO_MANY_WAITERS", "TOO_MANY_APPS", "SHUTTING_DOWN").
const (
	// ReasonLockWaitTimeout: WithLock waited and the session was still locked by another holder.
	ReasonLockWaitTimeout = "LOCK_WAIT_TIMEOUT"
	// ReasonSessionNotFound: WithLock without Create found no session.
	ReasonSessionNotFound = "SESSION_NOT_FOUND"
	// ReasonClientClosed: the Client was closed.
	ReasonClientClosed = "CLIENT_CLOSED"
)

// Error is every error returned by Client calls. Use errors.As to get it, or status.Code(err),
// which works because Error implements GRPCStatus.
type Error struct {
	// Code is the gRPC status code: Aborted for a conflicting write (locked by another holder,
	// stale lock id, version mismatch), InvalidArgument, ResourceExhausted, Unavailable,
	// DeadlineExceeded, Canceled...
	Code codes.Code
	// Reason is the stable reason from the stateward-reason trailer, or one of the client's
	// Reason constants; empty when none was sent.
	Reason string
	// Message is the status message.
	Message string
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("stateward: %s: %s [%s]", e.Code, e.Message, e.Reason)
	}
	return fmt.Sprintf("stateward: %s: %s", e.Code, e.Message)
}

// GRPCStatus makes status.Code and status.FromError work on *Error.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// ReasonOf returns the Reason of err if it is (or wraps) an *Error, else "".
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func wrapError(err error, trailer metadata.MD) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		code := codes.Unknown
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			code = codes.DeadlineExceeded
		case errors.Is(err, context.Canceled):
			code = codes.Canceled
		}
		return &Error{Code: code, Message: err.Error()}
	}
	e := &Error{Code: st.Code(), Message: st.Message()}
	if v := trailer.Get(ReasonTrailer); len(v) > 0 {
		e.Reason = v[0]
	}
	return e
}
