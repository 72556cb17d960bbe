package stateward

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/stateward/stateward/client/go/statewardv1"
)

// ReasonTrailer is the trailer in which servers also send the bare reason of a refusal. Servers
// that predate the google.rpc.ErrorInfo send only this one, so it is read when the status has no
// ErrorInfo.
const ReasonTrailer = "stateward-reason"

// ErrorDomain is the google.rpc.ErrorInfo domain of Stateward's reasons.
const ErrorDomain = "stateward.v1"

// Reasons set by the client itself, in Error.ReasonName (Error.Reason is
// ErrorReason_ERROR_REASON_UNSPECIFIED for them). The server's reasons are the values of
// statewardv1.ErrorReason.
// The same names, for the same events, as the TypeScript and Python clients' (docs/client-behaviour.md).
const (
	// ReasonLockWaitTimeout (codes.Aborted): WithLock waited and the session was still locked by
	// another holder.
	ReasonLockWaitTimeout = "LOCK_WAIT_TIMEOUT"
	// ReasonSessionNotFound (codes.NotFound): WithLock without Create found no session.
	ReasonSessionNotFound = "SESSION_NOT_FOUND"
	// ReasonUnknownOutcome (codes.Internal): the server answered an outcome this package does not know.
	ReasonUnknownOutcome = "UNKNOWN_OUTCOME"
	// ReasonClientClosed (codes.Canceled): the Client was closed.
	ReasonClientClosed = "CLIENT_CLOSED"
)

// Error is every error returned by Client calls. Use errors.As to get it, or status.Code(err) and
// status.FromError(err), which work because Error implements GRPCStatus (with the server's details).
type Error struct {
	// Code is the gRPC status code: Aborted for a conflicting write (locked by another holder,
	// stale lock id, version mismatch), InvalidArgument, ResourceExhausted, Unavailable,
	// DeadlineExceeded, Canceled...
	Code codes.Code
	// Reason is the server's stable reason, e.g. statewardv1.ErrorReason_STALE_LOCK_ID (read from
	// the google.rpc.ErrorInfo in the status details, or from the stateward-reason trailer of older
	// servers). ErrorReason_ERROR_REASON_UNSPECIFIED when none was sent, for the client's own
	// reasons, and for a newer server's reason that this package does not know: see ReasonName.
	Reason statewardv1.ErrorReason
	// ReasonName is the reason as a string: the name of Reason, one of the client's Reason
	// constants, or a newer server's reason passed on as it came; empty when none was sent.
	ReasonName string
	// Metadata holds the facts that go with the reason (the ErrorInfo's metadata): for example
	// "field" and "limit" for INVALID_FIELD, "limit" and "size" for ITEM_TOO_LARGE (the keys of each
	// reason are documented on statewardv1.ErrorReason). Nil when none were sent.
	Metadata map[string]string
	// Message is the status message.
	Message string

	// status is the server's status, details included (nil for the client's own errors).
	status *status.Status
}

func (e *Error) Error() string {
	if e.ReasonName != "" {
		return fmt.Sprintf("stateward: %s: %s [%s]", e.Code, e.Message, e.ReasonName)
	}
	return fmt.Sprintf("stateward: %s: %s", e.Code, e.Message)
}

// GRPCStatus makes status.Code and status.FromError work on *Error; a server's status keeps its
// details (the ErrorInfo).
func (e *Error) GRPCStatus() *status.Status {
	if e.status != nil {
		return e.status
	}
	return status.New(e.Code, e.Message)
}

// ReasonOf returns the ReasonName of err if it is (or wraps) an *Error, else "".
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.ReasonName
	}
	return ""
}

// reasonNamed is the ErrorReason called name, or ERROR_REASON_UNSPECIFIED if there is none.
func reasonNamed(name string) statewardv1.ErrorReason {
	if v, ok := statewardv1.ErrorReason_value[name]; ok {
		return statewardv1.ErrorReason(v)
	}
	return statewardv1.ErrorReason_ERROR_REASON_UNSPECIFIED
}

// errorInfo returns the status's ErrorInfo (Stateward's domain first), or nil. Details that did
// not unmarshal are skipped: the trailer may come from a proxy.
func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	var first *errdetails.ErrorInfo
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok {
			continue
		}
		if info.GetDomain() == ErrorDomain {
			return info
		}
		if first == nil {
			first = info
		}
	}
	return first
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
	e := &Error{Code: st.Code(), Message: st.Message(), status: st}
	if info := errorInfo(st); info != nil && info.GetReason() != "" {
		e.ReasonName = info.GetReason()
		if md := info.GetMetadata(); len(md) > 0 {
			e.Metadata = md
		}
	} else if v := trailer.Get(ReasonTrailer); len(v) > 0 {
		e.ReasonName = v[0]
	}
	e.Reason = reasonNamed(e.ReasonName)
	return e
}
