package stateward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"

	"github.com/stateward/stateward/client/go/statewardv1"
)

// The client's defaults are those of the shared client behaviour spec (docs/client-behaviour.md,
// proto/client-behaviour.json), which the TypeScript and Python clients follow too; the tests check
// this package against that file.

// DefaultAddress is the server's default address (stateward serve listens there by default):
// NewClient(Addresses(DefaultAddress)).
const DefaultAddress = "127.0.0.1:42424"

// Channel defaults. Keepalive pings every DefaultKeepaliveTime while a call is open, so a silently
// dead node or a dropped NAT flow is noticed within about 40 s instead of at the next TCP timeout;
// never without calls. Reconnects back off from DefaultInitialReconnectBackoff up to
// DefaultMaxReconnectBackoff, so a restarted node is found again within seconds (gRPC's default
// maximum is 120 s). There is no receive limit: the server bounds what it sends (--max-item-bytes).
const (
	DefaultKeepaliveTime                = 30 * time.Second
	DefaultKeepaliveTimeout             = 10 * time.Second
	DefaultKeepalivePermitWithoutStream = false
	DefaultInitialReconnectBackoff      = 250 * time.Millisecond
	DefaultMaxReconnectBackoff          = 5 * time.Second
)

// RetryPolicy is the retry of the idempotent calls (Get, Expire, Release) on codes.Unavailable, by
// grpc-go's own retry support (the channel's default service config). Lock, Set and Remove are
// never retried: they may have run. Each retry comes after a random delay of up to the current
// backoff.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts in all, the first included (gRPC caps it at 5); 1
	// disables retries.
	MaxAttempts int
	// InitialBackoff is the backoff before the first retry.
	InitialBackoff time.Duration
	// MaxBackoff is the longest backoff.
	MaxBackoff time.Duration
	// BackoffMultiplier is the factor by which the backoff grows per retry.
	BackoffMultiplier float64
}

// DefaultRetry is the default RetryPolicy: 4 attempts, backoffs from 50 ms doubling up to 1 s.
var DefaultRetry = RetryPolicy{MaxAttempts: 4, InitialBackoff: 50 * time.Millisecond, MaxBackoff: time.Second, BackoffMultiplier: 2}

// WaiterLimitRetry is the retry of a lock wait refused with codes.ResourceExhausted /
// TOO_MANY_WAITERS (the session's queue was full: the server's --max-waiters), so that the call
// never started waiting. Each retry comes after a random delay of up to the current backoff ("full
// jitter", so that the refused callers do not come back together); the backoff doubles per retry up
// to MaxBackoff. Retries happen only within the caller's wait (and its context's deadline): once it
// is spent, one last look that does not wait answers as a wait that ran out does.
type WaiterLimitRetry struct {
	// InitialBackoff: the first retry comes a random 0 to InitialBackoff later.
	InitialBackoff time.Duration
	// MaxBackoff is the longest backoff.
	MaxBackoff time.Duration
}

// DefaultWaiterLimitRetry is the default WaiterLimitRetry: a first retry within 20 ms, backoffs of
// at most 1 s.
var DefaultWaiterLimitRetry = WaiterLimitRetry{InitialBackoff: 20 * time.Millisecond, MaxBackoff: time.Second}

// waiterLimitMultiplier is the factor by which the waiter-limit backoff grows per retry.
const waiterLimitMultiplier = 2

// jitter returns a number in [0, 1) for the random part of the waiter-limit backoff (replaced by the
// tests to take the randomness out of a timing).
var jitter = rand.Float64

// WithRetry sets the retry of Get, Expire and Release on codes.Unavailable (default DefaultRetry).
func WithRetry(p RetryPolicy) Option { return func(c *clientConfig) { c.retry = p } }

// WithoutRetry disables the retries of WithRetry.
func WithoutRetry() Option { return func(c *clientConfig) { c.retry = RetryPolicy{MaxAttempts: 1} } }

// WithWaiterLimitRetry sets WithLock's retry of TOO_MANY_WAITERS (default DefaultWaiterLimitRetry).
func WithWaiterLimitRetry(r WaiterLimitRetry) Option {
	return func(c *clientConfig) { c.waiterLimit = &r }
}

// WithoutWaiterLimitRetry makes WithLock return TOO_MANY_WAITERS at once.
func WithoutWaiterLimitRetry() Option { return func(c *clientConfig) { c.waiterLimit = nil } }

// RetryServiceConfig is the gRPC service config (JSON) that carries p for Get, Expire and Release,
// for grpc.WithDefaultServiceConfig; with MaxAttempts below 2 it configures no retries. The same
// document as the TypeScript client's retryServiceConfig().
func RetryServiceConfig(p RetryPolicy) string {
	type name struct {
		Service string `json:"service"`
		Method  string `json:"method"`
	}
	type retryPolicy struct {
		MaxAttempts          int      `json:"maxAttempts"`
		InitialBackoff       string   `json:"initialBackoff"`
		MaxBackoff           string   `json:"maxBackoff"`
		BackoffMultiplier    float64  `json:"backoffMultiplier"`
		RetryableStatusCodes []string `json:"retryableStatusCodes"`
	}
	type methodConfig struct {
		Name        []name      `json:"name"`
		RetryPolicy retryPolicy `json:"retryPolicy"`
	}
	config := struct {
		MethodConfig []methodConfig `json:"methodConfig"`
	}{MethodConfig: []methodConfig{}}
	if p.MaxAttempts >= 2 {
		service := statewardv1.SessionState_ServiceDesc.ServiceName
		seconds := func(d time.Duration) string { return fmt.Sprintf("%.3fs", max(d, time.Millisecond).Seconds()) }
		config.MethodConfig = append(config.MethodConfig, methodConfig{
			Name: []name{{service, "Get"}, {service, "Expire"}, {service, "Release"}},
			RetryPolicy: retryPolicy{
				MaxAttempts:          min(5, p.MaxAttempts),
				InitialBackoff:       seconds(p.InitialBackoff),
				MaxBackoff:           seconds(p.MaxBackoff),
				BackoffMultiplier:    max(1, p.BackoffMultiplier),
				RetryableStatusCodes: []string{"UNAVAILABLE"},
			},
		})
	}
	out, err := json.Marshal(config)
	if err != nil {
		panic(err) // plain structs of strings and numbers always marshal
	}
	return string(out)
}

// defaultDialOptions are the spec's channel defaults; the caller's WithDialOptions come after them,
// so they win.
func defaultDialOptions(cfg clientConfig) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(cfg.creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxInt32)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: DefaultKeepaliveTime, Timeout: DefaultKeepaliveTimeout, PermitWithoutStream: DefaultKeepalivePermitWithoutStream,
		}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay: DefaultInitialReconnectBackoff, Multiplier: backoff.DefaultConfig.Multiplier,
				Jitter: backoff.DefaultConfig.Jitter, MaxDelay: DefaultMaxReconnectBackoff,
			},
			// gRPC's default: left at 0, a connection attempt would get only the current backoff.
			MinConnectTimeout: 20 * time.Second,
		}),
		grpc.WithDefaultServiceConfig(RetryServiceConfig(cfg.retry)),
		// Large HTTP/2 windows, so that a pipelined stream is never held back by flow control
		// (the 64 KiB defaults stall it under load); WithDialOptions can set others.
		grpc.WithInitialWindowSize(DefaultWindowSize),
		grpc.WithInitialConnWindowSize(DefaultWindowSize),
	}
}

// DefaultWindowSize is the HTTP/2 flow-control window of the client's connections and of each of
// their streams: 16 MiB.
const DefaultWindowSize = 16 << 20

// maxInt32 is gRPC's largest message size: in effect no receive limit.
const maxInt32 = 1<<31 - 1

// isWaiterLimit reports the server's refusal of a call because the session's queue was full.
func isWaiterLimit(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == codes.ResourceExhausted && e.ReasonName == statewardv1.ErrorReason_TOO_MANY_WAITERS.String()
}

// retryWaiterLimit runs a waiting Lock (attempt, given the wait left), retrying it per policy (nil:
// no retries) while the server refuses it with TOO_MANY_WAITERS, never past the wait or the
// context's deadline. It returns what the last attempt returned.
func retryWaiterLimit[T any](ctx context.Context, policy *WaiterLimitRetry, wait time.Duration, attempt func(wait time.Duration) (T, error)) (T, error) {
	waitEnd := time.Now().Add(max(0, wait))
	callEnd, hasDeadline := ctx.Deadline()
	var ceiling, limit time.Duration
	if policy != nil {
		ceiling = max(time.Millisecond, policy.InitialBackoff)
		limit = max(ceiling, policy.MaxBackoff)
	}
	left := max(0, wait)
	for {
		result, err := attempt(left)
		// A call that did not wait cannot have been refused for the queue: never loop on it.
		if err == nil || policy == nil || left == 0 || !isWaiterLimit(err) {
			return result, err
		}
		// Never sleep past the wait: once it is spent, the next attempt does not wait and answers
		// as an expired wait would.
		delay := min(time.Duration(jitter()*float64(ceiling)), max(0, time.Until(waitEnd)))
		if hasDeadline && !time.Now().Add(delay).Before(callEnd) {
			return result, err
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			var zero T
			return zero, wrapError(ctx.Err(), nil)
		case <-timer.C:
		}
		ceiling = min(ceiling*waiterLimitMultiplier, limit)
		left = max(0, time.Until(waitEnd).Truncate(time.Millisecond))
	}
}
