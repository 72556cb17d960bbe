package stateward_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/stateward/stateward/client/go/stateward"
	"github.com/stateward/stateward/client/go/statewardv1"
)

// bothTransports runs body once per transport, as the subtests "pipeline" (the default) and
// "unary"; the clients the test helpers make inside follow the subtest's transport.
func bothTransports(t *testing.T, body func(t *testing.T)) {
	t.Run("pipeline", body)
	t.Run("unary", body)
}

// transportOptions are the options that pick the transport of the subtest t runs in.
func transportOptions(t *testing.T) []stateward.Option {
	if strings.Contains(t.Name(), "/unary") {
		return []stateward.Option{stateward.WithUnary()}
	}
	return nil
}

// pipelined adds a Pipeline to a fake that implements only unary methods: each operation runs
// through the fake's own unary method (its deadline from timeout_ms, withdrawn by a cancel id), and
// its error is flattened into an OperationError as the real server does, so the fakes answer both
// transports alike.
type pipelined struct {
	statewardv1.SessionStateServer
}

func (p pipelined) Pipeline(stream statewardv1.SessionState_PipelineServer) error {
	var send sync.Mutex
	var mu sync.Mutex
	cancels := map[uint64]context.CancelFunc{}
	var running sync.WaitGroup
	defer running.Wait()
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		mu.Lock()
		for _, id := range req.GetCancelIds() {
			if cancel, ok := cancels[id]; ok {
				cancel()
			}
		}
		for _, op := range req.GetOperations() {
			ctx, cancel := context.WithCancel(stream.Context())
			if ms := op.GetTimeoutMs(); ms > 0 {
				ctx, cancel = context.WithTimeout(stream.Context(), time.Duration(ms)*time.Millisecond)
			}
			cancels[op.GetId()] = cancel
			running.Add(1)
			go func() {
				defer running.Done()
				result := p.run(ctx, op)
				mu.Lock()
				delete(cancels, op.GetId())
				mu.Unlock()
				cancel()
				send.Lock()
				defer send.Unlock()
				_ = stream.Send(&statewardv1.PipelineResponse{Results: []*statewardv1.PipelineResult{result}})
			}()
		}
		mu.Unlock()
	}
}

func (p pipelined) run(ctx context.Context, op *statewardv1.PipelineOperation) *statewardv1.PipelineResult {
	trailer := &trailerCatcher{}
	ctx = grpc.NewContextWithServerTransportStream(ctx, trailer)
	r := &statewardv1.PipelineResult{Id: op.GetId()}
	var err error
	switch o := op.GetRequest().(type) {
	case *statewardv1.PipelineOperation_Get:
		var v *statewardv1.GetResponse
		if v, err = p.Get(ctx, o.Get); err == nil {
			r.Result = &statewardv1.PipelineResult_Get{Get: v}
		}
	case *statewardv1.PipelineOperation_Lock:
		var v *statewardv1.LockResponse
		if v, err = p.Lock(ctx, o.Lock); err == nil {
			r.Result = &statewardv1.PipelineResult_Lock{Lock: v}
		}
	case *statewardv1.PipelineOperation_Set:
		var v *statewardv1.SetResponse
		if v, err = p.Set(ctx, o.Set); err == nil {
			r.Result = &statewardv1.PipelineResult_Set{Set: v}
		}
	case *statewardv1.PipelineOperation_Release:
		var v *statewardv1.ReleaseResponse
		if v, err = p.Release(ctx, o.Release); err == nil {
			r.Result = &statewardv1.PipelineResult_Release{Release: v}
		}
	case *statewardv1.PipelineOperation_Expire:
		var v *statewardv1.ExpireResponse
		if v, err = p.Expire(ctx, o.Expire); err == nil {
			r.Result = &statewardv1.PipelineResult_Expire{Expire: v}
		}
	case *statewardv1.PipelineOperation_Remove:
		var v *statewardv1.RemoveResponse
		if v, err = p.Remove(ctx, o.Remove); err == nil {
			r.Result = &statewardv1.PipelineResult_Remove{Remove: v}
		}
	}
	if err != nil {
		st := status.Convert(err)
		oe := &statewardv1.OperationError{Code: int32(st.Code()), Message: st.Message()}
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				oe.Reason, oe.Metadata = info.GetReason(), info.GetMetadata()
			}
		}
		if v := trailer.md.Get(stateward.ReasonTrailer); oe.Reason == "" && len(v) > 0 {
			oe.Reason = v[0]
		}
		r.Result = &statewardv1.PipelineResult_Error{Error: oe}
	}
	return r
}

// trailerCatcher keeps what a unary handler sets with grpc.SetTrailer.
type trailerCatcher struct{ md metadata.MD }

func (*trailerCatcher) Method() string                    { return "" }
func (*trailerCatcher) SetHeader(metadata.MD) error       { return nil }
func (*trailerCatcher) SendHeader(metadata.MD) error      { return nil }
func (c *trailerCatcher) SetTrailer(md metadata.MD) error { c.md = metadata.Join(c.md, md); return nil }
