package stateward

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/stateward/stateward/client/go/statewardv1"
)

// DefaultTimeout is the deadline of a call whose context has none (any server-side wait is
// added to it). A context's own deadline is the call's whole deadline, wait included.
const DefaultTimeout = 5 * time.Second

// DefaultLockWait is how long WithLock waits on the server for a held lock: long enough for the
// other requests of one user to finish, short enough that a request that waited it all still
// answers within a proxy's or browser's patience.
const DefaultLockWait = 10 * time.Second

// Outcome is the outcome of a Get or Lock. A missing session is an outcome, never an error.
type Outcome int

const (
	// OutcomeOK: Get returned data; Lock acquired the lock (LockID is yours) and returned data.
	OutcomeOK Outcome = iota + 1
	// OutcomeNotFound: no such session (never existed, expired or removed).
	OutcomeNotFound
	// OutcomeLocked: a writer holds the lock; LockID and LockAge describe the holder; no data.
	OutcomeLocked
)

// String returns "ok", "not-found" or "locked" (the names the other Stateward clients use).
func (o Outcome) String() string {
	switch o {
	case OutcomeOK:
		return "ok"
	case OutcomeNotFound:
		return "not-found"
	case OutcomeLocked:
		return "locked"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// GetResult is the reader's view of a session.
type GetResult struct {
	Outcome Outcome
	// Data is the session's data (OutcomeOK only).
	Data []byte
	// Version is 1 on creation and grows by one with every write (OutcomeOK only).
	Version uint64
	// LockID is the holder's lock id (OutcomeLocked).
	LockID uint64
	// LockAge is how long the holder has held the lock (OutcomeLocked).
	LockAge time.Duration
	// TTL is the session's sliding-expiry window (OutcomeOK and OutcomeLocked).
	TTL time.Duration
}

// LockResult is the writer's view of a session.
type LockResult struct {
	Outcome Outcome
	// Data is the session's data (OutcomeOK only).
	Data []byte
	// Version is the session's version (OutcomeOK only).
	Version uint64
	// LockID is your new lock id, a fencing token (OutcomeOK), or the holder's (OutcomeLocked).
	LockID uint64
	// LockAge is 0 for OutcomeOK and the holder's lock age for OutcomeLocked.
	LockAge time.Duration
	// TTL is the session's sliding-expiry window.
	TTL time.Duration
	// Created is true when this call created the session (LockOptions.Create).
	Created bool
	// Lease is how long until the server releases the lock by itself (OutcomeOK).
	Lease time.Duration
}

// SetResult reports a write.
type SetResult struct {
	// Version is the session's version after the call.
	Version uint64
	// Written is false only for SetOptions.OnlyIfAbsent on an existing session.
	Written bool
}

// ExpireResult reports an expiry reset.
type ExpireResult struct {
	// Found is false if the session is missing (nothing is created).
	Found bool
	// TTL is the session's window after the call (when found).
	TTL time.Duration
}

// LockOptions tune Lock and WithLockOptions.
type LockOptions struct {
	// Wait is how long to wait on the server (FIFO) for a held lock; 0 answers OutcomeLocked
	// at once. Millisecond precision; capped by the server's --max-wait-ms.
	Wait time.Duration
	// Lease is the lock's lease; 0 means the server default (110 s).
	Lease time.Duration
	// Create creates a missing session empty (version 1) and locks it atomically.
	Create bool
	// TTL is the window of a session created by this call, rounded up to whole seconds;
	// 0 means the server default (20 min).
	TTL time.Duration
}

// SetOptions tune Set.
type SetOptions struct {
	// TTL is the new window, rounded up to whole seconds; 0 keeps the session's current one.
	TTL time.Duration
	// LockID, if non-zero, must be the holder's; the write then releases the lock unless
	// KeepLock.
	LockID uint64
	// KeepLock keeps holding the lock after a write with LockID (the lease is not renewed).
	KeepLock bool
	// ExpectedVersion, if non-zero, makes the write happen only at that version.
	ExpectedVersion uint64
	// OnlyIfAbsent creates the session only if it is missing; otherwise Written is false.
	OnlyIfAbsent bool
}

// Option configures a Client.
type Option func(*clientConfig)

type clientConfig struct {
	timeout     time.Duration
	creds       credentials.TransportCredentials
	dialOpts    []grpc.DialOption
	md          metadata.MD
	retry       RetryPolicy
	waiterLimit *WaiterLimitRetry

	unary bool

	// customCreds: WithTransportCredentials was given (WithTLS builds creds itself).
	customCreds   bool
	tls           *TLSOptions
	token         string
	hasToken      bool
	insecureToken bool
}

// WithTimeout sets the deadline of calls whose context has none (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(c *clientConfig) { c.timeout = d } }

// WithUnary makes the client send each operation as its own unary call instead of over the
// default Pipeline transport (batched operations on one long-lived stream per endpoint). Same
// results and errors either way; unary costs more CPU per operation on both sides.
func WithUnary() Option { return func(c *clientConfig) { c.unary = true } }

// WithTransportCredentials enables TLS with credentials built by the caller (the default is
// plaintext); WithTLS builds them from files or PEM. A WithToken token is sent over them.
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return func(c *clientConfig) { c.creds, c.customCreds = creds, true }
}

// WithDialOptions adds gRPC dial options for every endpoint, after the defaults (keepalive,
// reconnect backoff, no receive limit, the retry service config), which they override.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *clientConfig) { c.dialOpts = append(c.dialOpts, opts...) }
}

// WithMetadata sends these key/value pairs with every call (custom headers; the token goes in
// WithToken).
func WithMetadata(kv ...string) Option {
	return func(c *clientConfig) { c.md = metadata.Join(c.md, metadata.Pairs(kv...)) }
}

// Client talks to one Stateward node or a partitioned farm of them. Each (app, session id) is
// routed to one endpoint by rendezvous hashing (proto/PARTITIONING.md), like the Python and
// TypeScript clients. A Client is safe for concurrent use; Close it when done.
type Client struct {
	partitioner *Partitioner
	conns       []*grpc.ClientConn
	stubs       []statewardv1.SessionStateClient
	// pipelines, one per endpoint, carry the operations unless WithUnary (nil then).
	pipelines   []*pipelineEndpoint
	retry       RetryPolicy
	timeout     time.Duration
	md          metadata.MD
	waiterLimit *WaiterLimitRetry
	closed      atomic.Bool
}

// Addresses turns address strings into endpoints without node ids.
func Addresses(addrs ...string) []Endpoint {
	eps := make([]Endpoint, len(addrs))
	for i, a := range addrs {
		eps[i] = Endpoint{Address: a}
	}
	return eps
}

// NewClient creates a client of the endpoints (at least one). Connections are made lazily. It
// fails on options that do not fit together: a WithToken token without TLS (unless
// WithInsecureToken), both WithTLS and WithTransportCredentials, TLSOptions that do not load.
func NewClient(endpoints []Endpoint, opts ...Option) (*Client, error) {
	waiterLimit := DefaultWaiterLimitRetry
	cfg := clientConfig{timeout: DefaultTimeout, creds: insecure.NewCredentials(), retry: DefaultRetry, waiterLimit: &waiterLimit}
	for _, o := range opts {
		o(&cfg)
	}
	token, err := resolveSecurity(&cfg)
	if err != nil {
		return nil, err
	}
	p, err := NewPartitioner(endpoints)
	if err != nil {
		return nil, err
	}
	c := &Client{partitioner: p, timeout: cfg.timeout, md: cfg.md, waiterLimit: cfg.waiterLimit, retry: cfg.retry}
	dialOpts := defaultDialOptions(cfg)
	if token != nil {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(token))
	}
	dialOpts = append(dialOpts, cfg.dialOpts...)
	for _, ep := range p.endpoints {
		conn, err := grpc.NewClient(ep.Address, dialOpts...)
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("stateward: endpoint %q: %w", ep.Address, err)
		}
		c.conns = append(c.conns, conn)
		stub := statewardv1.NewSessionStateClient(conn)
		c.stubs = append(c.stubs, stub)
		if !cfg.unary {
			c.pipelines = append(c.pipelines, &pipelineEndpoint{stub: stub, md: cfg.md})
		}
	}
	return c, nil
}

// Close closes every connection; calls in flight fail with Canceled.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	for _, e := range c.pipelines {
		e.close()
	}
	var first error
	for _, conn := range c.conns {
		if err := conn.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Endpoint returns the endpoint that owns the session.
func (c *Client) Endpoint(app, sessionID string) Endpoint {
	return c.partitioner.Endpoint(app, sessionID)
}

// Partitioner returns the client's routing.
func (c *Client) Partitioner() *Partitioner { return c.partitioner }

// method is one of the six operations, as a unary call and as a Pipeline operation.
type method[Req, Resp any] struct {
	name string
	// idempotent operations are retried on Unavailable (the unary ones by the service config).
	idempotent bool
	unary      func(statewardv1.SessionStateClient, context.Context, Req, ...grpc.CallOption) (Resp, error)
	wrap       func(*statewardv1.PipelineOperation, Req)
	// unwrap returns the result's response, or nil if it is of another kind.
	unwrap func(*statewardv1.PipelineResult) Resp
	// bytes is the payload size of a request, for the batch byte cap.
	bytes func(Req) int
}

func noBytes[Req any](Req) int { return 0 }

var (
	getMethod = method[*statewardv1.GetRequest, *statewardv1.GetResponse]{
		"get", true, statewardv1.SessionStateClient.Get,
		func(o *statewardv1.PipelineOperation, r *statewardv1.GetRequest) {
			o.Request = &statewardv1.PipelineOperation_Get{Get: r}
		},
		(*statewardv1.PipelineResult).GetGet, noBytes[*statewardv1.GetRequest],
	}
	lockMethod = method[*statewardv1.LockRequest, *statewardv1.LockResponse]{
		"lock", false, statewardv1.SessionStateClient.Lock,
		func(o *statewardv1.PipelineOperation, r *statewardv1.LockRequest) {
			o.Request = &statewardv1.PipelineOperation_Lock{Lock: r}
		},
		(*statewardv1.PipelineResult).GetLock, noBytes[*statewardv1.LockRequest],
	}
	setMethod = method[*statewardv1.SetRequest, *statewardv1.SetResponse]{
		"set", false, statewardv1.SessionStateClient.Set,
		func(o *statewardv1.PipelineOperation, r *statewardv1.SetRequest) {
			o.Request = &statewardv1.PipelineOperation_Set{Set: r}
		},
		(*statewardv1.PipelineResult).GetSet, func(r *statewardv1.SetRequest) int { return len(r.GetData()) },
	}
	releaseMethod = method[*statewardv1.ReleaseRequest, *statewardv1.ReleaseResponse]{
		"release", true, statewardv1.SessionStateClient.Release,
		func(o *statewardv1.PipelineOperation, r *statewardv1.ReleaseRequest) {
			o.Request = &statewardv1.PipelineOperation_Release{Release: r}
		},
		(*statewardv1.PipelineResult).GetRelease, noBytes[*statewardv1.ReleaseRequest],
	}
	expireMethod = method[*statewardv1.ExpireRequest, *statewardv1.ExpireResponse]{
		"expire", true, statewardv1.SessionStateClient.Expire,
		func(o *statewardv1.PipelineOperation, r *statewardv1.ExpireRequest) {
			o.Request = &statewardv1.PipelineOperation_Expire{Expire: r}
		},
		(*statewardv1.PipelineResult).GetExpire, noBytes[*statewardv1.ExpireRequest],
	}
	removeMethod = method[*statewardv1.RemoveRequest, *statewardv1.RemoveResponse]{
		"remove", false, statewardv1.SessionStateClient.Remove,
		func(o *statewardv1.PipelineOperation, r *statewardv1.RemoveRequest) {
			o.Request = &statewardv1.PipelineOperation_Remove{Remove: r}
		},
		(*statewardv1.PipelineResult).GetRemove, noBytes[*statewardv1.RemoveRequest],
	}
)

// invoke routes the call, applies the default deadline, picks the transport and wraps errors with
// their reason. A call whose context carries its own outgoing metadata goes unary (a stream's
// metadata is the client's), as in the TypeScript client.
func invoke[Req, Resp comparable](ctx context.Context, c *Client, app, sessionID string, wait time.Duration, m method[Req, Resp], req Req) (Resp, error) {
	var zero Resp
	if c.closed.Load() {
		return zero, clientClosedError()
	}
	deadline, hasDeadline := ctx.Deadline()
	index := c.partitioner.Index(app, sessionID)
	callMD := mdFrom(ctx)
	if c.pipelines != nil && len(callMD) == 0 {
		// The default deadline is kept by the stream's deadline wheel: no context timer per call.
		if !hasDeadline {
			deadline = time.Now().Add(c.timeout + wait)
		}
		r, err := c.pipelineCall(ctx, deadline, !hasDeadline, c.pipelines[index], m.idempotent, func(o *statewardv1.PipelineOperation) { m.wrap(o, req) }, m.bytes(req))
		if err != nil {
			return zero, err
		}
		resp := m.unwrap(r)
		if resp == zero {
			return zero, kindMismatch(m.name, r)
		}
		return resp, nil
	}
	if !hasDeadline {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout+wait)
		defer cancel()
	}
	if c.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, metadata.Join(c.md, callMD))
	}
	var trailer metadata.MD
	resp, err := m.unary(c.stubs[index], ctx, req, grpc.Trailer(&trailer))
	if err != nil {
		return zero, wrapError(err, trailer)
	}
	return resp, nil
}

func mdFrom(ctx context.Context) metadata.MD {
	md, _ := metadata.FromOutgoingContext(ctx)
	return md
}

// millis is a uint32 millisecond field (sub-millisecond parts dropped); a negative duration or one
// the field cannot carry is refused before sending, as the server refuses a bad field.
func millis(field string, d time.Duration) (uint32, error) {
	if d < 0 || d.Milliseconds() > math.MaxUint32 {
		return 0, invalidField(field, fmt.Sprintf("%s must be from 0 to %d ms, got %s", field, uint32(math.MaxUint32), d))
	}
	return uint32(d.Milliseconds()), nil
}

// seconds is a uint32 seconds field, rounded up to whole seconds; refused like millis.
func seconds(field string, d time.Duration) (uint32, error) {
	s := (d + time.Second - 1) / time.Second
	if d < 0 || s > math.MaxUint32 {
		return 0, invalidField(field, fmt.Sprintf("%s must be from 0 to %d s, got %s", field, uint32(math.MaxUint32), d))
	}
	return uint32(s), nil
}

func invalidField(field, message string) *Error {
	return &Error{
		Code: codes.InvalidArgument, Reason: statewardv1.ErrorReason_INVALID_FIELD, ReasonName: statewardv1.ErrorReason_INVALID_FIELD.String(),
		Metadata: map[string]string{"field": field, "limit": strconv.FormatUint(math.MaxUint32, 10)}, Message: message,
	}
}

func outcome(o statewardv1.Outcome) (Outcome, error) {
	switch o {
	case statewardv1.Outcome_OUTCOME_OK:
		return OutcomeOK, nil
	case statewardv1.Outcome_OUTCOME_NOT_FOUND:
		return OutcomeNotFound, nil
	case statewardv1.Outcome_OUTCOME_LOCKED:
		return OutcomeLocked, nil
	}
	return 0, &Error{Code: codes.Internal, ReasonName: ReasonUnknownOutcome, Message: fmt.Sprintf("server sent an unknown outcome %d", o)}
}

// Get reads a session without locking it (ASP.NET GetItem). With wait > 0 a locked session is
// waited for on the server instead of answering OutcomeLocked at once.
func (c *Client) Get(ctx context.Context, app, sessionID string, wait time.Duration) (*GetResult, error) {
	waitMs, err := millis("wait_ms", wait)
	if err != nil {
		return nil, err
	}
	r, err := invoke(ctx, c, app, sessionID, wait, getMethod,
		&statewardv1.GetRequest{App: app, SessionId: sessionID, WaitMs: waitMs})
	if err != nil {
		return nil, err
	}
	o, err := outcome(r.GetOutcome())
	if err != nil {
		return nil, err
	}
	return &GetResult{
		Outcome: o, Data: r.GetData(), Version: r.GetVersion(), LockID: r.GetLockId(),
		LockAge: time.Duration(r.GetLockAgeMs()) * time.Millisecond,
		TTL:     time.Duration(r.GetTtlSeconds()) * time.Second,
	}, nil
}

// Lock takes the session's exclusive lock and reads it (ASP.NET GetItemExclusive).
func (c *Client) Lock(ctx context.Context, app, sessionID string, opts LockOptions) (*LockResult, error) {
	waitMs, err := millis("wait_ms", opts.Wait)
	if err != nil {
		return nil, err
	}
	leaseMs, err := millis("lease_ms", opts.Lease)
	if err != nil {
		return nil, err
	}
	ttl, err := seconds("ttl_seconds", opts.TTL)
	if err != nil {
		return nil, err
	}
	r, err := invoke(ctx, c, app, sessionID, opts.Wait, lockMethod,
		&statewardv1.LockRequest{
			App: app, SessionId: sessionID, WaitMs: waitMs, LeaseMs: leaseMs, Create: opts.Create, TtlSeconds: ttl,
		})
	if err != nil {
		return nil, err
	}
	o, err := outcome(r.GetOutcome())
	if err != nil {
		return nil, err
	}
	return &LockResult{
		Outcome: o, Data: r.GetData(), Version: r.GetVersion(), LockID: r.GetLockId(),
		LockAge: time.Duration(r.GetLockAgeMs()) * time.Millisecond,
		TTL:     time.Duration(r.GetTtlSeconds()) * time.Second,
		Created: r.GetCreated(),
		Lease:   time.Duration(r.GetLeaseMs()) * time.Millisecond,
	}, nil
}

// Set writes a session; with opts.LockID (the holder's) it also releases the lock unless
// opts.KeepLock (ASP.NET SetAndReleaseItemExclusive). A conflicting write (locked by another
// holder, stale lock id, version mismatch) changes nothing and fails with codes.Aborted.
func (c *Client) Set(ctx context.Context, app, sessionID string, data []byte, opts SetOptions) (*SetResult, error) {
	ttl, err := seconds("ttl_seconds", opts.TTL)
	if err != nil {
		return nil, err
	}
	r, err := invoke(ctx, c, app, sessionID, 0, setMethod,
		&statewardv1.SetRequest{
			App: app, SessionId: sessionID, Data: data, TtlSeconds: ttl, LockId: opts.LockID,
			KeepLock: opts.KeepLock, ExpectedVersion: opts.ExpectedVersion, OnlyIfAbsent: opts.OnlyIfAbsent,
		})
	if err != nil {
		return nil, err
	}
	return &SetResult{Version: r.GetVersion(), Written: r.GetWritten()}, nil
}

// Release releases the lock given the holder's lock id (also a forced release). It reports
// false, not an error, if lockID is not the holder's.
func (c *Client) Release(ctx context.Context, app, sessionID string, lockID uint64) (bool, error) {
	r, err := invoke(ctx, c, app, sessionID, 0, releaseMethod,
		&statewardv1.ReleaseRequest{App: app, SessionId: sessionID, LockId: lockID})
	if err != nil {
		return false, err
	}
	return r.GetReleased(), nil
}

// Expire restarts the session's sliding window, with a new TTL if ttl > 0 (rounded up to whole
// seconds), without touching data, version or lock.
func (c *Client) Expire(ctx context.Context, app, sessionID string, ttl time.Duration) (*ExpireResult, error) {
	ttlSeconds, err := seconds("ttl_seconds", ttl)
	if err != nil {
		return nil, err
	}
	r, err := invoke(ctx, c, app, sessionID, 0, expireMethod,
		&statewardv1.ExpireRequest{App: app, SessionId: sessionID, TtlSeconds: ttlSeconds})
	if err != nil {
		return nil, err
	}
	return &ExpireResult{Found: r.GetFound(), TTL: time.Duration(r.GetTtlSeconds()) * time.Second}, nil
}

// Remove deletes a session (Session.Abandon). A locked session needs the holder's lock id,
// otherwise codes.Aborted. It reports whether the session existed.
func (c *Client) Remove(ctx context.Context, app, sessionID string, lockID uint64) (bool, error) {
	r, err := invoke(ctx, c, app, sessionID, 0, removeMethod,
		&statewardv1.RemoveRequest{App: app, SessionId: sessionID, LockId: lockID})
	if err != nil {
		return false, err
	}
	return r.GetRemoved(), nil
}

// WithLock runs fn on the session's data under its lock: it acquires with server-side waiting
// (DefaultLockWait), creating a missing session empty, then
//   - if fn returns non-nil data, writes it with set-and-release;
//   - if fn returns nil data and no error, only releases;
//   - if fn returns an error (or panics), releases and returns that error (or re-panics).
//
// Nothing is renewed silently: if the lease ended before the write, the write fails with
// codes.Aborted; any refused write releases the lock before returning the error. If the lock
// is still held by another when the wait runs out, the error has codes.Aborted and ReasonName
// ReasonLockWaitTimeout. The wait is the whole budget for taking the lock: a Lock refused because
// the session's queue was full (TOO_MANY_WAITERS) is retried within it (WithWaiterLimitRetry).
func (c *Client) WithLock(ctx context.Context, app, sessionID string, fn func(data []byte) ([]byte, error)) error {
	return c.WithLockOptions(ctx, app, sessionID, LockOptions{Wait: DefaultLockWait, Create: true}, fn)
}

// WithLockOptions is WithLock with explicit lock options. Without opts.Create a missing
// session fails with codes.NotFound and ReasonName ReasonSessionNotFound.
func (c *Client) WithLockOptions(ctx context.Context, app, sessionID string, opts LockOptions, fn func(data []byte) ([]byte, error)) (err error) {
	l, err := retryWaiterLimit(ctx, c.waiterLimit, opts.Wait, func(wait time.Duration) (*LockResult, error) {
		attempt := opts
		attempt.Wait = wait
		return c.Lock(ctx, app, sessionID, attempt)
	})
	if err != nil {
		return err
	}
	switch l.Outcome {
	case OutcomeLocked:
		// Aborted, as the server's LOCKED_BY_OTHER for the same conflict without a wait: the call
		// itself did not run out of time, and nothing was done.
		return &Error{Code: codes.Aborted, ReasonName: ReasonLockWaitTimeout,
			Message: fmt.Sprintf("the session was still locked by another holder after waiting %s", opts.Wait)}
	case OutcomeNotFound:
		return &Error{Code: codes.NotFound, ReasonName: ReasonSessionNotFound, Message: "no such session"}
	}
	done := false
	defer func() {
		if !done { // fn panicked: release, then let the panic continue
			c.releaseQuietly(ctx, app, sessionID, l.LockID)
		}
	}()
	data, fnErr := fn(l.Data)
	done = true
	if fnErr != nil {
		c.releaseQuietly(ctx, app, sessionID, l.LockID)
		return fnErr
	}
	if data == nil {
		_, err = c.Release(ctx, app, sessionID, l.LockID)
		return err
	}
	if _, err = c.Set(ctx, app, sessionID, data, SetOptions{LockID: l.LockID}); err != nil {
		// A refused write (too large, memory budget...) leaves the lock held: let it go.
		c.releaseQuietly(ctx, app, sessionID, l.LockID)
	}
	return err
}

// releaseQuietly releases on an error path, even if ctx is already cancelled; its own failure
// is dropped so the original error is what the caller sees (the lease ends the lock anyway).
func (c *Client) releaseQuietly(ctx context.Context, app, sessionID string, lockID uint64) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	_, _ = c.Release(rctx, app, sessionID, lockID)
}
