package stateward_test

// Tests of what only the Pipeline transport has: batching, cancellation on the server, the
// release of a Lock granted after its caller gave up, and the replacement of a broken stream.

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/stateward/stateward/client/go/stateward"
	"github.com/stateward/stateward/client/go/statewardv1"
)

func TestPipelineBatchesOnlyUnderLoad(t *testing.T) {
	c, ctx, sid := newClient(t), ctxT(t), newSID()
	_, err := c.Set(ctx, app, sid, []byte("v"), stateward.SetOptions{})
	noErr(t, err)
	// One caller at a time: every operation goes at once, alone in its message.
	for range 50 {
		_, err := c.Get(ctx, app, sid, 0)
		noErr(t, err)
	}
	messages, operations := c.PipelineStats()
	if operations != 51 || messages != operations {
		t.Fatalf("sequential: %d operations in %d messages, want 51 in 51", operations, messages)
	}
	// Many callers: what queues while a message is being sent goes in the next one.
	const callers, each = 128, 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if r, err := c.Get(ctx, app, sid, 0); err != nil || string(r.Data) != "v" {
					errs <- errors.Join(err, errors.New("wrong data"))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	m, o := c.PipelineStats()
	m, o = m-messages, o-operations
	if o != callers*each || m*2 > o {
		t.Fatalf("concurrent: %d operations in %d messages, want %d in at most half as many", o, m, callers*each)
	}
	t.Logf("concurrent: %.1f operations per message", float64(o)/float64(m))
	if m, o := newClient(t, shared.addr).PipelineStats(); m != 0 || o != 0 {
		t.Fatalf("a fresh client reports %d/%d", m, o)
	}
}

// A waiting Lock whose caller cancels leaves the server's queue at once (a cancel id): with one
// queue place per session (--max-waiters 1), the next waiting Lock gets it instead of being refused
// with TOO_MANY_WAITERS.
func TestPipelineCancelledLockLeavesTheQueue(t *testing.T) {
	c, ctx, sid := newClient(t, tightServer(t).addr), ctxT(t), newSID()
	holder, err := c.Lock(ctx, app, sid, stateward.LockOptions{Create: true})
	noErr(t, err)
	waitCtx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(200 * time.Millisecond); cancel() }() // ordering only: after it queued
	started := time.Now()
	_, err = c.Lock(waitCtx, app, sid, stateward.LockOptions{Wait: 10 * time.Second})
	wantStatus(t, err, codes.Canceled, "")
	if elapsed := time.Since(started); elapsed > 2*time.Second {
		t.Fatalf("the cancelled Lock returned after %s", elapsed)
	}
	r, err := c.Lock(ctx, app, sid, stateward.LockOptions{Wait: 100 * time.Millisecond})
	noErr(t, err)
	if r.Outcome != stateward.OutcomeLocked || r.LockID != holder.LockID {
		t.Fatalf("a waiting Lock after the cancel: %v (lock %d), want locked by the holder", r.Outcome, r.LockID)
	}
	released, err := c.Release(ctx, app, sid, holder.LockID)
	noErr(t, err)
	if !released {
		t.Fatal("the holder's release failed")
	}
	r, err = c.Lock(ctx, app, sid, stateward.LockOptions{})
	noErr(t, err)
	if r.Outcome != stateward.OutcomeOK {
		t.Fatalf("after the release: %v (locked by %d), want ok", r.Outcome, r.LockID)
	}
}

// lateGrant grants every Lock only after delay, whatever happens meanwhile: a grant already on its
// way when the caller gave up.
type lateGrant struct {
	*fakeServer
	delay time.Duration
}

func (l lateGrant) Lock(ctx context.Context, r *statewardv1.LockRequest) (*statewardv1.LockResponse, error) {
	time.Sleep(l.delay)
	return l.fakeServer.Lock(context.WithoutCancel(ctx), r)
}

func TestPipelineReleasesALockGrantedAfterItsCallerGaveUp(t *testing.T) {
	fake := &fakeServer{unavailable: map[string]int{}, getOutcome: statewardv1.Outcome_OUTCOME_OK}
	c := specClient(t, serveFake(t, lateGrant{fake, 300 * time.Millisecond}), stateward.WithoutRetry())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Lock(ctx, app, "s", stateward.LockOptions{Wait: time.Second})
	wantStatus(t, err, codes.DeadlineExceeded, "")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if releases := fake.calls("Release"); len(releases) > 0 {
			if r := releases[0].request.(*statewardv1.ReleaseRequest); r.GetLockId() != 9 || r.GetSessionId() != "s" || r.GetApp() != app {
				t.Fatalf("released %v, want lock 9 of the session", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the late grant was never released")
		}
	}
	// Its answer settles nothing: the client goes on working.
	if _, err := c.Get(context.Background(), app, "s", 0); err != nil {
		t.Fatal(err)
	}
}

// breakingPipeline ends its first streams with an error once they carried a message.
type breakingPipeline struct {
	pipelined
	breaks  atomic.Int32
	streams atomic.Int32
}

func (b *breakingPipeline) Pipeline(stream statewardv1.SessionState_PipelineServer) error {
	b.streams.Add(1)
	if b.breaks.Add(-1) >= 0 {
		if _, err := stream.Recv(); err != nil {
			return err
		}
		return status.Error(codes.Internal, "scripted break")
	}
	return b.pipelined.Pipeline(stream)
}

func TestPipelineBrokenStreamFailsItsOperationsAndIsReplaced(t *testing.T) {
	fake := &fakeServer{unavailable: map[string]int{}, getOutcome: statewardv1.Outcome_OUTCOME_OK}
	impl := &breakingPipeline{pipelined: pipelined{fake}}
	impl.breaks.Store(2)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	noErr(t, err)
	server := grpc.NewServer()
	statewardv1.RegisterSessionStateServer(server, impl)
	go func() { _ = server.Serve(l) }()
	t.Cleanup(server.Stop)
	c := specClient(t, l.Addr().String())
	ctx := ctxT(t)
	// A Set may have run: never retried, it fails with the stream.
	_, err = c.Set(ctx, app, "s", []byte("v"), stateward.SetOptions{})
	wantStatus(t, err, codes.Unavailable, "")
	// A Get is retried on a new stream (the second breaks too, the third answers).
	r, err := c.Get(ctx, app, "s", 0)
	noErr(t, err)
	if r.Outcome != stateward.OutcomeOK || impl.streams.Load() != 3 {
		t.Fatalf("%v after %d streams, want ok after 3", r.Outcome, impl.streams.Load())
	}
}

func TestPipelineCloseFailsPendingOperations(t *testing.T) {
	holderClient, ctx, sid := newClient(t), ctxT(t), newSID()
	holder, err := holderClient.Lock(ctx, app, sid, stateward.LockOptions{Create: true})
	noErr(t, err)
	defer func() { _, _ = holderClient.Release(ctx, app, sid, holder.LockID) }()
	c := newClient(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Lock(ctx, app, sid, stateward.LockOptions{Wait: 10 * time.Second})
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // ordering only: the Lock is waiting on the server
	_ = c.Close()
	select {
	case err := <-done:
		wantStatus(t, err, codes.Canceled, stateward.ReasonClientClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Close left the waiting Lock pending")
	}
}

// stallingGet answers every Get only after delay, whatever its deadline.
type stallingGet struct {
	*fakeServer
	delay time.Duration
}

func (s stallingGet) Get(ctx context.Context, r *statewardv1.GetRequest) (*statewardv1.GetResponse, error) {
	if err := s.record(ctx, "Get", r); err != nil {
		return nil, err
	}
	time.Sleep(s.delay)
	return &statewardv1.GetResponse{Outcome: statewardv1.Outcome_OUTCOME_OK}, nil
}

// The client's default deadline (a context without one) holds on both transports: on the pipeline
// it is kept by the stream's deadline wheel, not by a context timer.
func TestDefaultDeadlineWithoutAnAnswer(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		fake := &fakeServer{unavailable: map[string]int{}, getOutcome: statewardv1.Outcome_OUTCOME_OK}
		c := specClient(t, serveFake(t, stallingGet{fake, 3 * time.Second}), stateward.WithoutRetry(), stateward.WithTimeout(200*time.Millisecond))
		started := time.Now()
		_, err := c.Get(context.Background(), app, "s", 0)
		elapsed := time.Since(started)
		wantStatus(t, err, codes.DeadlineExceeded, "")
		if elapsed < 200*time.Millisecond || elapsed > 1500*time.Millisecond {
			t.Fatalf("failed after %s, want about 200 ms", elapsed)
		}
		if seen := fake.calls("Get"); len(seen) != 1 || seen[0].deadline > 200*time.Millisecond || seen[0].deadline < 100*time.Millisecond {
			t.Fatalf("the server saw %v, want one Get with a deadline of about 200 ms", seen)
		}
	})
}
