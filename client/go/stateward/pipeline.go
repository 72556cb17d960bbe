package stateward

// The Pipeline transport: the six operations carried over one long-lived Pipeline stream per
// endpoint. A writer goroutine sends everything queued while the previous message was being sent
// as ONE PipelineRequest (so an idle client sends each operation at once, and a loaded one sends
// big batches), and a reader goroutine hands each result to the goroutine waiting for its id.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/stateward/stateward/client/go/statewardv1"
)

// Batch caps of one PipelineRequest, as the TypeScript client's defaults (the server refuses more
// than --max-pipeline-batch operations per message, 1024 by default).
const (
	pipelineMaxBatchOperations = 256
	pipelineMaxBatchBytes      = 256 << 10
	// pipelineOperationOverhead is a rough per-operation framing size, for the byte cap.
	pipelineOperationOverhead = 64
	// pipelineSweepInterval is how often a stream's deadline wheel looks for operations whose
	// client-side deadline passed (the server answers a waiting one before its timeout_ms anyway).
	pipelineSweepInterval = 5 * time.Millisecond
	// pipelineGatherYields bounds the yields of gather, so that a steady stream of callers cannot
	// hold a message back.
	pipelineGatherYields = 8
)

// abandonedLockGrace is how long after its own wait and deadline an abandoned Lock's result is
// still awaited. The server answers every cancelled operation, so this only bounds the books if one
// does not; forgetting too early costs only what the release avoids (a lock held to its lease).
const abandonedLockGrace = 60 * time.Second

// pendingOp is one caller's operation on a stream.
type pendingOp struct {
	op    *statewardv1.PipelineOperation
	bytes int
	// done receives the one result or error (buffered: the reader never blocks on a caller).
	done chan pipelineReply
	// sent: the writer took it off the queue (guarded by the stream's mutex).
	sent bool
	// queued: still in the stream's queue (guarded by the stream's mutex).
	queued bool
	// deadline, when set, is kept by the stream's deadline wheel instead of a context timer (the
	// client's default deadline, for a context without one).
	deadline time.Time
}

type pipelineReply struct {
	result *statewardv1.PipelineResult
	err    error
}

// abandonedLock is a sent Lock whose caller gave up; a grant among their results is released.
type abandonedLock struct {
	app, sessionID string
	forgetAt       time.Time
}

// pipelineStream is one Pipeline stream with its send queue and its books.
type pipelineStream struct {
	owner *pipelineEndpoint
	ctx   context.Context
	stop  context.CancelFunc

	mu        sync.Mutex
	nextID    uint64
	queue     []*pendingOp
	cancelIDs []uint64
	pending   map[uint64]*pendingOp
	abandoned map[uint64]abandonedLock
	dead      bool
	// timed counts the pending operations with a wheel deadline; sweeping: the wheel runs.
	timed    int
	sweeping bool
	// wake has room for one signal: the writer has work.
	wake chan struct{}

	// Counters for the benchmark (guarded by mu).
	messages, operations uint64
}

// pipelineEndpoint owns the stream to one endpoint and replaces it when it dies.
type pipelineEndpoint struct {
	stub statewardv1.SessionStateClient
	md   metadata.MD

	mu     sync.Mutex
	stream *pipelineStream
	closed bool
	// Totals of the streams that ended, for PipelineStats.
	messages, operations uint64
}

// current returns the live stream, opening one if there is none (the open itself happens on the
// writer goroutine, so a caller never blocks on it beyond its own context).
func (e *pipelineEndpoint) current() (*pipelineStream, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, clientClosedError()
	}
	if s := e.stream; s != nil {
		s.mu.Lock()
		dead := s.dead
		s.mu.Unlock()
		if !dead {
			return s, nil
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	if e.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, e.md)
	}
	s := &pipelineStream{
		owner: e, ctx: ctx, stop: stop, nextID: 1,
		pending: make(map[uint64]*pendingOp), abandoned: make(map[uint64]abandonedLock),
		wake: make(chan struct{}, 1),
	}
	e.stream = s
	go s.run()
	return s, nil
}

func (e *pipelineEndpoint) close() {
	e.mu.Lock()
	e.closed = true
	s := e.stream
	e.mu.Unlock()
	if s != nil {
		s.fail(clientClosedError())
	}
}

func (e *pipelineEndpoint) stats() (messages, operations uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	messages, operations = e.messages, e.operations
	if s := e.stream; s != nil {
		s.mu.Lock()
		messages += s.messages
		operations += s.operations
		s.mu.Unlock()
	}
	return messages, operations
}

// errStreamGone: the stream died before the operation was queued on it (nothing was sent, so it
// goes on the next stream, whatever its kind).
var errStreamGone = errors.New("stateward: the pipeline stream ended before the operation was queued")

func clientClosedError() *Error {
	return &Error{Code: codes.Canceled, ReasonName: ReasonClientClosed, Message: "the client is closed"}
}

// submit queues op and waits for its result or for ctx to end. A caller that gives up leaves: an
// unsent operation is dropped, a sent one is cancelled on the server.
// A zero deadline means ctx's own; otherwise the stream's deadline wheel fails the operation with
// DeadlineExceeded when it passes, which costs no timer per operation.
func (s *pipelineStream) submit(ctx context.Context, op *statewardv1.PipelineOperation, bytes int, deadline time.Time) (*statewardv1.PipelineResult, error) {
	p := &pendingOp{op: op, bytes: bytes + pipelineOperationOverhead, done: make(chan pipelineReply, 1), deadline: deadline}
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return nil, errStreamGone
	}
	op.Id = s.nextID
	s.nextID++
	s.pending[op.Id] = p
	p.queued = true
	s.queue = append(s.queue, p)
	if !deadline.IsZero() {
		s.timed++
		if !s.sweeping {
			s.sweeping = true
			go s.sweep()
		}
	}
	s.mu.Unlock()
	s.signal()
	select {
	case r := <-p.done:
		return r.result, r.err
	case <-ctx.Done():
		if !s.abandon(p) {
			// Answered (or failed) while ctx ended: the answer is there or on its way, and a Lock's
			// grant must reach its caller rather than be lost with the lock held.
			r := <-p.done
			return r.result, r.err
		}
		return nil, wrapError(ctx.Err(), nil)
	}
}

func (s *pipelineStream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// abandon takes an operation whose caller gave up off the books; false if it was answered or
// failed meanwhile (its reply is then in, or on its way to, p.done).
func (s *pipelineStream) abandon(p *pendingOp) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.abandonLocked(p)
}

func (s *pipelineStream) abandonLocked(p *pendingOp) bool {
	id := p.op.Id
	if s.pending[id] != p {
		return false
	}
	s.forgetLocked(p)
	if p.queued {
		for i, q := range s.queue {
			if q == p {
				s.queue = append(s.queue[:i], s.queue[i+1:]...)
				break
			}
		}
		p.queued = false
		return true
	}
	s.cancelIDs = append(s.cancelIDs, id)
	if lock, ok := p.op.Request.(*statewardv1.PipelineOperation_Lock); ok {
		// The server may have granted it before the cancel reaches it: remember it until its one
		// result comes, and release a grant then (releaseGrant).
		now := time.Now()
		for k, a := range s.abandoned {
			if now.After(a.forgetAt) {
				delete(s.abandoned, k)
			}
		}
		bound := time.Duration(lock.Lock.GetWaitMs()) * time.Millisecond
		if t := time.Duration(p.op.GetTimeoutMs()) * time.Millisecond; t > 0 && t < bound {
			bound = t
		}
		s.abandoned[id] = abandonedLock{app: lock.Lock.GetApp(), sessionID: lock.Lock.GetSessionId(), forgetAt: now.Add(bound + abandonedLockGrace)}
	}
	s.signal()
	return true
}

// forgetLocked takes p off the pending books.
func (s *pipelineStream) forgetLocked(p *pendingOp) {
	delete(s.pending, p.op.Id)
	if !p.deadline.IsZero() {
		s.timed--
	}
}

// sweep is the stream's deadline wheel: while operations with a wheel deadline are pending, it
// fails those whose deadline passed as their context would have (and cancels them on the server).
func (s *pipelineStream) sweep() {
	ticker := time.NewTicker(pipelineSweepInterval)
	defer ticker.Stop()
	expired := wrapError(context.DeadlineExceeded, nil)
	for {
		var now time.Time
		select {
		case <-s.ctx.Done():
			return
		case now = <-ticker.C:
		}
		s.mu.Lock()
		if s.dead {
			s.mu.Unlock()
			return
		}
		for _, p := range s.pending {
			if !p.deadline.IsZero() && !now.Before(p.deadline) && s.abandonLocked(p) {
				p.done <- pipelineReply{err: expired}
			}
		}
		if s.timed == 0 {
			s.sweeping = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// run opens the stream, then writes; the reader runs beside it.
func (s *pipelineStream) run() {
	stream, err := s.owner.stub.Pipeline(s.ctx)
	if err != nil {
		s.fail(streamError(err, nil))
		return
	}
	go s.read(stream)
	s.write(stream)
}

// write sends everything queued as one message (up to the caps), then looks again: while a
// message is being sent, the next one fills.
func (s *pipelineStream) write(stream statewardv1.SessionState_PipelineClient) {
	req := &statewardv1.PipelineRequest{}
	for {
		select {
		case <-s.wake:
		case <-s.ctx.Done():
			return
		}
		s.gather()
		for {
			s.mu.Lock()
			if s.dead {
				s.mu.Unlock()
				return
			}
			n, bytes := 0, 0
			for n < len(s.queue) && n < pipelineMaxBatchOperations {
				if n > 0 && bytes+s.queue[n].bytes > pipelineMaxBatchBytes {
					break
				}
				bytes += s.queue[n].bytes
				n++
			}
			if n == 0 && len(s.cancelIDs) == 0 {
				s.mu.Unlock()
				break
			}
			req.Operations = req.Operations[:0]
			for _, p := range s.queue[:n] {
				p.queued, p.sent = false, true
				req.Operations = append(req.Operations, p.op)
			}
			// Shift rather than reslice, so the queue's array does not creep and keep old entries alive.
			rest := copy(s.queue, s.queue[n:])
			clear(s.queue[rest:])
			s.queue = s.queue[:rest]
			req.CancelIds = append(req.CancelIds[:0], s.cancelIDs...)
			s.cancelIDs = s.cancelIDs[:0]
			s.messages++
			s.operations += uint64(n)
			s.mu.Unlock()
			// SendMsg encodes before it returns, so req and its slices are free again afterwards.
			if err := stream.Send(req); err != nil {
				// io.EOF: the stream ended and the reader gets its status; anything else is ours.
				if !errors.Is(err, io.EOF) {
					s.fail(streamError(err, nil))
				}
				return
			}
		}
	}
}

// gather lets the goroutines that are ready to run queue their operations before a message is
// cut: grpc-go's Send returns once the message is queued for the wire, so without this the writer
// would cut one message per operation however loaded. Callers woken by one response message queue
// their next operations within a few yields; an idle client has nobody else to run, so each yield
// returns at once and the operation goes without delay.
func (s *pipelineStream) gather() {
	s.mu.Lock()
	n := len(s.queue)
	s.mu.Unlock()
	for range pipelineGatherYields {
		runtime.Gosched()
		s.mu.Lock()
		grown := len(s.queue)
		s.mu.Unlock()
		if grown == n || grown >= pipelineMaxBatchOperations {
			return
		}
		n = grown
	}
}

// read dispatches results by id until the stream ends, then fails what is left with its status.
func (s *pipelineStream) read(stream statewardv1.SessionState_PipelineClient) {
	for {
		resp, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				s.fail(&Error{Code: codes.Unavailable, Message: "the server ended the pipeline stream"})
			} else {
				s.fail(streamError(err, stream.Trailer()))
			}
			return
		}
		s.mu.Lock()
		for _, r := range resp.GetResults() {
			id := r.GetId()
			if a, ok := s.abandoned[id]; ok {
				// Whatever it is (a grant, LOCKED, the CANCELLED answer), it is its one result.
				delete(s.abandoned, id)
				if l := r.GetLock(); l != nil && l.GetOutcome() == statewardv1.Outcome_OUTCOME_OK {
					s.releaseGrantLocked(a, l.GetLockId())
				}
				continue
			}
			p, ok := s.pending[id]
			if !ok {
				continue // an abandoned operation's late answer, or a stale grant's release
			}
			s.forgetLocked(p)
			p.done <- pipelineReply{result: r}
		}
		s.mu.Unlock()
	}
}

// releaseGrantLocked gives back a lock granted to an operation nobody waits for (fire and forget:
// its result has an id no caller holds, and the lease frees the lock if it fails).
func (s *pipelineStream) releaseGrantLocked(a abandonedLock, lockID uint64) {
	id := s.nextID
	s.nextID++
	op := &statewardv1.PipelineOperation{Id: id, Request: &statewardv1.PipelineOperation_Release{
		Release: &statewardv1.ReleaseRequest{App: a.app, SessionId: a.sessionID, LockId: lockID},
	}}
	s.queue = append(s.queue, &pendingOp{op: op, bytes: pipelineOperationOverhead, queued: true})
	s.signal()
}

// fail ends the stream: every operation on it fails with err (never retried here: one that may
// have run must not run twice silently), and the next operation opens a new stream.
func (s *pipelineStream) fail(err *Error) {
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return
	}
	s.dead = true
	pending := s.pending
	s.pending = nil
	s.timed = 0
	s.queue = nil
	s.abandoned = nil
	messages, operations := s.messages, s.operations
	s.mu.Unlock()
	// Cancel, not half-close: the server drops the stream's waiting operations at once.
	s.stop()
	e := s.owner
	e.mu.Lock()
	if e.stream == s {
		e.stream = nil
		e.messages += messages
		e.operations += operations
	}
	e.mu.Unlock()
	for _, p := range pending {
		p.done <- pipelineReply{err: err}
	}
}

// streamError is the error of the operations of a stream that ended with err. A stream refused for
// its credential fails them with that status and the server's reason (a new stream would be refused
// alike); any other end is a broken transport: Unavailable, and the next operation opens a new one.
func streamError(err error, trailer metadata.MD) *Error {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.Unauthenticated, codes.PermissionDenied:
		var e *Error
		errors.As(wrapError(err, trailer), &e)
		return e
	case codes.Canceled:
		return &Error{Code: codes.Canceled, Message: "the pipeline stream was cancelled: " + st.Message()}
	}
	return &Error{Code: codes.Unavailable, Message: "the pipeline stream failed: " + st.Message()}
}

// operationError is the Error of a failed operation, as the unary call's: the same code, message,
// reason and metadata, and a status with the same google.rpc.ErrorInfo.
func operationError(oe *statewardv1.OperationError) *Error {
	e := &Error{Code: codes.Code(oe.GetCode()), Message: oe.GetMessage(), ReasonName: oe.GetReason()}
	if md := oe.GetMetadata(); len(md) > 0 {
		e.Metadata = md
	}
	e.Reason = reasonNamed(e.ReasonName)
	st := status.New(e.Code, e.Message)
	if e.ReasonName != "" {
		if withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: e.ReasonName, Domain: ErrorDomain, Metadata: e.Metadata}); err == nil {
			st = withInfo
		}
	}
	e.status = st
	return e
}

// operationTimeoutMs is the operation's timeout_ms: what is left until deadline, rounded up.
func operationTimeoutMs(deadline time.Time) uint32 {
	left := time.Until(deadline)
	if left <= 0 {
		return 1
	}
	ms := (left + time.Millisecond - 1) / time.Millisecond
	return uint32(min(ms, 1<<32-1))
}

// pipelineCall runs one operation over the endpoint's stream; an idempotent one that fails with
// Unavailable (a broken stream, a restarting node) is retried per policy within ctx's deadline, as
// grpc-go retries the unary calls. The deadline is ctx's, or, when wheel, the client's default one
// for a ctx without its own (kept by the stream's deadline wheel).
func (c *Client) pipelineCall(ctx context.Context, deadline time.Time, wheel bool, e *pipelineEndpoint, idempotent bool, build func(*statewardv1.PipelineOperation), bytes int) (*statewardv1.PipelineResult, error) {
	var wheelDeadline time.Time
	if wheel {
		wheelDeadline = deadline
	}
	attempts := 1
	if idempotent {
		attempts = max(1, min(5, c.retry.MaxAttempts))
	}
	backoff := c.retry.InitialBackoff
	for n := 1; ; n++ {
		var r *statewardv1.PipelineResult
		var err error
		for tries := 0; ; tries++ {
			if tries == 3 { // streams that die as they open: the transport is broken
				return nil, &Error{Code: codes.Unavailable, Message: "the pipeline stream ended"}
			}
			s, openErr := e.current()
			if openErr != nil {
				return nil, openErr
			}
			op := &statewardv1.PipelineOperation{TimeoutMs: operationTimeoutMs(deadline)}
			build(op)
			if r, err = s.submit(ctx, op, bytes, wheelDeadline); !errors.Is(err, errStreamGone) {
				break
			}
		}
		if err == nil {
			oe := r.GetError()
			if oe == nil {
				return r, nil
			}
			err = operationError(oe)
		}
		var se *Error
		if n >= attempts || !errors.As(err, &se) || se.Code != codes.Unavailable || c.closed.Load() {
			return nil, err
		}
		delay := time.Duration(jitter() * float64(backoff))
		if !time.Now().Add(delay).Before(deadline) {
			return nil, err
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, wrapError(ctx.Err(), nil)
		case <-timer.C:
		}
		backoff = min(time.Duration(float64(backoff)*max(1, c.retry.BackoffMultiplier)), c.retry.MaxBackoff)
	}
}

// kindMismatch is the error of a result of another kind than the operation's.
func kindMismatch(want string, r *statewardv1.PipelineResult) *Error {
	return &Error{Code: codes.Internal, Message: fmt.Sprintf("the server answered a %s with a %T result", want, r.GetResult())}
}

// PipelineStats reports how many PipelineRequest messages and operations the client has sent over
// its Pipeline streams (all endpoints, ended streams included): operations/messages is the mean
// batch size. Zero with WithUnary.
func (c *Client) PipelineStats() (messages, operations uint64) {
	for _, e := range c.pipelines {
		m, o := e.stats()
		messages += m
		operations += o
	}
	return messages, operations
}
