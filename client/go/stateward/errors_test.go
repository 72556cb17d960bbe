package stateward_test

import (
	"context"
	"errors"
	"maps"
	"net"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/stateward/stateward/client/go/stateward"
	"github.com/stateward/stateward/client/go/statewardv1"
)

// refusingServer answers Set as a current server refuses (an ErrorInfo in the status details and
// the legacy trailer), Remove as an older server (the legacy trailer only).
type refusingServer struct {
	statewardv1.UnimplementedSessionStateServer
}

func (refusingServer) Set(ctx context.Context, _ *statewardv1.SetRequest) (*statewardv1.SetResponse, error) {
	st, err := status.New(codes.InvalidArgument, "data is 2048 bytes; the limit is 1024").WithDetails(&errdetails.ErrorInfo{
		Reason:   "ITEM_TOO_LARGE",
		Domain:   stateward.ErrorDomain,
		Metadata: map[string]string{"field": "data", "limit": "1024", "size": "2048"},
	})
	if err != nil {
		return nil, err
	}
	_ = grpc.SetTrailer(ctx, metadata.Pairs(stateward.ReasonTrailer, "ITEM_TOO_LARGE"))
	return nil, st.Err()
}

func (refusingServer) Remove(ctx context.Context, _ *statewardv1.RemoveRequest) (*statewardv1.RemoveResponse, error) {
	_ = grpc.SetTrailer(ctx, metadata.Pairs(stateward.ReasonTrailer, "LOCKED_BY_OTHER"))
	return nil, status.Error(codes.Aborted, "locked")
}

func fakeClient(t *testing.T) *stateward.Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	noErr(t, err)
	s := grpc.NewServer()
	statewardv1.RegisterSessionStateServer(s, pipelined{refusingServer{}})
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	c, err := stateward.NewClient(stateward.Addresses(l.Addr().String()), append(transportOptions(t), stateward.WithTimeout(10*time.Second))...)
	noErr(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func asError(t *testing.T, err error) *stateward.Error {
	t.Helper()
	var e *stateward.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want a *stateward.Error", err)
	}
	return e
}

func TestErrorReasonFromErrorInfo(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		_, err := fakeClient(t).Set(ctxT(t), app, "sid", []byte("x"), stateward.SetOptions{})
		e := asError(t, err)
		if e.Code != codes.InvalidArgument || e.Reason != statewardv1.ErrorReason_ITEM_TOO_LARGE || e.ReasonName != "ITEM_TOO_LARGE" {
			t.Fatalf("got %v (reason %v)", e, e.Reason)
		}
		if want := map[string]string{"field": "data", "limit": "1024", "size": "2048"}; !maps.Equal(e.Metadata, want) {
			t.Fatalf("metadata %v, want %v", e.Metadata, want)
		}
		// The server's status, details included, is what status.FromError sees.
		if st, _ := status.FromError(err); len(st.Details()) != 1 || st.Code() != codes.InvalidArgument {
			t.Fatalf("status %v, details %v", st, st.Details())
		}
	})
}

func TestErrorReasonFromLegacyTrailer(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		_, err := fakeClient(t).Remove(ctxT(t), app, "sid", 0)
		e := asError(t, err)
		if e.Code != codes.Aborted || e.Reason != statewardv1.ErrorReason_LOCKED_BY_OTHER || e.ReasonName != "LOCKED_BY_OTHER" || e.Metadata != nil {
			t.Fatalf("got %v (reason %v, metadata %v)", e, e.Reason, e.Metadata)
		}
	})
}
