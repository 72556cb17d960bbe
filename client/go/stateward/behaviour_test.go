package stateward_test

// The Go client against the shared client behaviour spec (proto/client-behaviour.json,
// docs/client-behaviour.md), which the TypeScript and Python clients' tests check too: the exported
// defaults, and what the client does on the wire (deadlines, lock waits, retries, reasons), seen by
// a scripted fake server and by a real one.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/stateward/stateward/client/go/stateward"
	"github.com/stateward/stateward/client/go/statewardv1"
)

type specCheck struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
	Max    uint64 `json:"max"`
}

type behaviourSpec struct {
	Address struct {
		Default string `json:"default"`
	} `json:"address"`
	Deadlines struct {
		DefaultTimeoutMs        int64 `json:"default_timeout_ms"`
		WaitingCallAddsWait     bool  `json:"waiting_call_adds_wait"`
		ExplicitDeadlineIsTotal bool  `json:"explicit_deadline_is_total"`
	} `json:"deadlines"`
	LockHelper struct {
		DefaultWaitMs int64     `json:"default_wait_ms"`
		Create        bool      `json:"create"`
		LeaseMs       uint32    `json:"lease_ms"`
		TTLSeconds    uint32    `json:"ttl_seconds"`
		WaitExhausted specCheck `json:"wait_exhausted"`
		NotFound      specCheck `json:"not_found"`
	} `json:"lock_helper"`
	WaiterLimitRetry struct {
		On                specCheck `json:"on"`
		InitialBackoffMs  int64     `json:"initial_backoff_ms"`
		MaxBackoffMs      int64     `json:"max_backoff_ms"`
		BackoffMultiplier int64     `json:"backoff_multiplier"`
	} `json:"waiter_limit_retry"`
	UnavailableRetry struct {
		Methods           []string `json:"methods"`
		Never             []string `json:"never"`
		Codes             []string `json:"codes"`
		MaxAttempts       int      `json:"max_attempts"`
		InitialBackoffMs  int64    `json:"initial_backoff_ms"`
		MaxBackoffMs      int64    `json:"max_backoff_ms"`
		BackoffMultiplier float64  `json:"backoff_multiplier"`
	} `json:"unavailable_retry"`
	Channel struct {
		KeepaliveTimeMs             int64  `json:"keepalive_time_ms"`
		KeepaliveTimeoutMs          int64  `json:"keepalive_timeout_ms"`
		KeepalivePermitWithoutCalls bool   `json:"keepalive_permit_without_calls"`
		InitialReconnectBackoffMs   int64  `json:"initial_reconnect_backoff_ms"`
		MaxReconnectBackoffMs       int64  `json:"max_reconnect_backoff_ms"`
		MaxReceiveMessageBytes      *int64 `json:"max_receive_message_bytes"`
	} `json:"channel"`
	ClientChecks map[string]specCheck `json:"client_checks"`
	Reasons      []struct {
		Name string   `json:"name"`
		Code string   `json:"code"`
		SDKs []string `json:"sdks"`
	} `json:"client_reasons"`
}

func loadSpec(t *testing.T) behaviourSpec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "proto", "client-behaviour.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec behaviourSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	return spec
}

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// codeNamed is the gRPC code of a spec name ("ABORTED").
func codeNamed(t *testing.T, name string) codes.Code {
	t.Helper()
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if statusName(c) == name {
			return c
		}
	}
	t.Fatalf("no gRPC code %q", name)
	return codes.Unknown
}

// statusName is the canonical (proto) name of a code, as the spec writes it.
func statusName(c codes.Code) string {
	names := []string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
		"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
		"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}
	return names[c]
}

func TestSpecDefaults(t *testing.T) {
	spec := loadSpec(t)
	if stateward.DefaultAddress != spec.Address.Default {
		t.Errorf("DefaultAddress %q, spec %q", stateward.DefaultAddress, spec.Address.Default)
	}
	if stateward.DefaultTimeout != ms(spec.Deadlines.DefaultTimeoutMs) {
		t.Errorf("DefaultTimeout %s, spec %d ms", stateward.DefaultTimeout, spec.Deadlines.DefaultTimeoutMs)
	}
	if stateward.DefaultLockWait != ms(spec.LockHelper.DefaultWaitMs) {
		t.Errorf("DefaultLockWait %s, spec %d ms", stateward.DefaultLockWait, spec.LockHelper.DefaultWaitMs)
	}
	w := spec.WaiterLimitRetry
	if want := (stateward.WaiterLimitRetry{InitialBackoff: ms(w.InitialBackoffMs), MaxBackoff: ms(w.MaxBackoffMs)}); stateward.DefaultWaiterLimitRetry != want {
		t.Errorf("DefaultWaiterLimitRetry %+v, spec %+v", stateward.DefaultWaiterLimitRetry, want)
	}
	u := spec.UnavailableRetry
	if want := (stateward.RetryPolicy{MaxAttempts: u.MaxAttempts, InitialBackoff: ms(u.InitialBackoffMs), MaxBackoff: ms(u.MaxBackoffMs), BackoffMultiplier: u.BackoffMultiplier}); stateward.DefaultRetry != want {
		t.Errorf("DefaultRetry %+v, spec %+v", stateward.DefaultRetry, want)
	}
	ch := spec.Channel
	if stateward.DefaultKeepaliveTime != ms(ch.KeepaliveTimeMs) || stateward.DefaultKeepaliveTimeout != ms(ch.KeepaliveTimeoutMs) ||
		stateward.DefaultKeepalivePermitWithoutStream != ch.KeepalivePermitWithoutCalls {
		t.Errorf("keepalive %s/%s/%v, spec %+v", stateward.DefaultKeepaliveTime, stateward.DefaultKeepaliveTimeout, stateward.DefaultKeepalivePermitWithoutStream, ch)
	}
	if stateward.DefaultInitialReconnectBackoff != ms(ch.InitialReconnectBackoffMs) || stateward.DefaultMaxReconnectBackoff != ms(ch.MaxReconnectBackoffMs) {
		t.Errorf("reconnect backoff %s..%s, spec %+v", stateward.DefaultInitialReconnectBackoff, stateward.DefaultMaxReconnectBackoff, ch)
	}
	if ch.MaxReceiveMessageBytes != nil {
		t.Errorf("the spec now has a receive limit (%d): the client has none", *ch.MaxReceiveMessageBytes)
	}
}

func TestSpecRetryServiceConfig(t *testing.T) {
	spec := loadSpec(t)
	u := spec.UnavailableRetry
	var config struct {
		MethodConfig []struct {
			Name []struct {
				Service string `json:"service"`
				Method  string `json:"method"`
			} `json:"name"`
			RetryPolicy struct {
				MaxAttempts          int      `json:"maxAttempts"`
				InitialBackoff       string   `json:"initialBackoff"`
				MaxBackoff           string   `json:"maxBackoff"`
				BackoffMultiplier    float64  `json:"backoffMultiplier"`
				RetryableStatusCodes []string `json:"retryableStatusCodes"`
			} `json:"retryPolicy"`
		} `json:"methodConfig"`
	}
	if err := json.Unmarshal([]byte(stateward.RetryServiceConfig(stateward.DefaultRetry)), &config); err != nil {
		t.Fatal(err)
	}
	if len(config.MethodConfig) != 1 {
		t.Fatalf("method configs: %+v", config.MethodConfig)
	}
	mc := config.MethodConfig[0]
	var methods []string
	for _, n := range mc.Name {
		methods = append(methods, n.Method)
		if n.Service != "stateward.v1.SessionState" {
			t.Errorf("service %q", n.Service)
		}
	}
	if !slices.Equal(methods, u.Methods) {
		t.Errorf("methods %v, spec %v", methods, u.Methods)
	}
	p := mc.RetryPolicy
	if p.MaxAttempts != u.MaxAttempts || p.InitialBackoff != fmt.Sprintf("%.3fs", float64(u.InitialBackoffMs)/1000) ||
		p.MaxBackoff != fmt.Sprintf("%.3fs", float64(u.MaxBackoffMs)/1000) || p.BackoffMultiplier != u.BackoffMultiplier ||
		!slices.Equal(p.RetryableStatusCodes, u.Codes) {
		t.Errorf("retry policy %+v, spec %+v", p, u)
	}
	if got := stateward.RetryServiceConfig(stateward.RetryPolicy{MaxAttempts: 1}); got != `{"methodConfig":[]}` {
		t.Errorf("no retries: %s", got)
	}
}

func TestSpecClientReasons(t *testing.T) {
	spec := loadSpec(t)
	// Every reason constant of this package, by the name it must carry.
	ours := map[string]string{
		"LOCK_WAIT_TIMEOUT": stateward.ReasonLockWaitTimeout,
		"SESSION_NOT_FOUND": stateward.ReasonSessionNotFound,
		"UNKNOWN_OUTCOME":   stateward.ReasonUnknownOutcome,
		"CLIENT_CLOSED":     stateward.ReasonClientClosed,
	}
	var want, got []string
	for _, r := range spec.Reasons {
		if slices.Contains(r.SDKs, "go") {
			want = append(want, r.Name)
		}
	}
	for name, value := range ours {
		if name != value {
			t.Errorf("constant for %s is %q", name, value)
		}
		got = append(got, name)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("reasons %v, spec %v", got, want)
	}
}

// seen is one call the fake received: its method, its deadline left and its request.
type seen struct {
	method   string
	deadline time.Duration
	request  any
}

// fakeServer records every call; refuses waiting Locks with TOO_MANY_WAITERS while tooManyWaiters
// > 0; fails calls with Unavailable per unavailable[method]; answers Get with getOutcome.
type fakeServer struct {
	statewardv1.UnimplementedSessionStateServer
	mu             sync.Mutex
	seen           []seen
	tooManyWaiters int
	unavailable    map[string]int
	getOutcome     statewardv1.Outcome
}

func (f *fakeServer) record(ctx context.Context, method string, req any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	left := time.Duration(-1)
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	f.seen = append(f.seen, seen{method, left, req})
	if f.unavailable[method] > 0 {
		f.unavailable[method]--
		return status.Error(codes.Unavailable, "scripted outage")
	}
	return nil
}

func (f *fakeServer) calls(method string) []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []seen
	for _, s := range f.seen {
		if s.method == method {
			out = append(out, s)
		}
	}
	return out
}

func (f *fakeServer) Get(ctx context.Context, r *statewardv1.GetRequest) (*statewardv1.GetResponse, error) {
	if err := f.record(ctx, "Get", r); err != nil {
		return nil, err
	}
	return &statewardv1.GetResponse{Outcome: f.getOutcome, Data: []byte("x"), Version: 1}, nil
}

func (f *fakeServer) Lock(ctx context.Context, r *statewardv1.LockRequest) (*statewardv1.LockResponse, error) {
	if err := f.record(ctx, "Lock", r); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tooManyWaiters > 0 {
		// As the server: only a call that would wait can be refused for the queue.
		if r.GetWaitMs() > 0 {
			f.tooManyWaiters--
			st, err := status.New(codes.ResourceExhausted, "queue full").WithDetails(
				&errdetails.ErrorInfo{Reason: "TOO_MANY_WAITERS", Domain: stateward.ErrorDomain, Metadata: map[string]string{"limit": "1"}})
			if err != nil {
				return nil, err
			}
			return nil, st.Err()
		}
		return &statewardv1.LockResponse{Outcome: statewardv1.Outcome_OUTCOME_LOCKED, LockId: 7, LockAgeMs: 1}, nil
	}
	return &statewardv1.LockResponse{Outcome: statewardv1.Outcome_OUTCOME_OK, LockId: 9, Version: 1, LeaseMs: 60000, Created: r.GetCreate()}, nil
}

func (f *fakeServer) Set(ctx context.Context, r *statewardv1.SetRequest) (*statewardv1.SetResponse, error) {
	if err := f.record(ctx, "Set", r); err != nil {
		return nil, err
	}
	return &statewardv1.SetResponse{Version: 2, Written: true}, nil
}

func (f *fakeServer) Release(ctx context.Context, r *statewardv1.ReleaseRequest) (*statewardv1.ReleaseResponse, error) {
	if err := f.record(ctx, "Release", r); err != nil {
		return nil, err
	}
	return &statewardv1.ReleaseResponse{Released: true}, nil
}

func (f *fakeServer) Expire(ctx context.Context, r *statewardv1.ExpireRequest) (*statewardv1.ExpireResponse, error) {
	if err := f.record(ctx, "Expire", r); err != nil {
		return nil, err
	}
	return &statewardv1.ExpireResponse{Found: true, TtlSeconds: 60}, nil
}

func (f *fakeServer) Remove(ctx context.Context, r *statewardv1.RemoveRequest) (*statewardv1.RemoveResponse, error) {
	if err := f.record(ctx, "Remove", r); err != nil {
		return nil, err
	}
	return &statewardv1.RemoveResponse{Removed: true}, nil
}

// startFake serves a fakeServer on 127.0.0.1:0 until the test ends.
func startFake(t *testing.T) (*fakeServer, string) {
	t.Helper()
	fake := &fakeServer{unavailable: map[string]int{}, getOutcome: statewardv1.Outcome_OUTCOME_OK}
	return fake, serveFake(t, fake)
}

// serveFake serves impl on 127.0.0.1:0 with opts until the test ends, and returns its address.
func serveFake(t *testing.T, impl statewardv1.SessionStateServer, opts ...grpc.ServerOption) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer(opts...)
	statewardv1.RegisterSessionStateServer(server, pipelined{impl})
	go func() { _ = server.Serve(l) }()
	t.Cleanup(server.Stop)
	return l.Addr().String()
}

func specClient(t *testing.T, addr string, opts ...stateward.Option) *stateward.Client {
	t.Helper()
	c, err := stateward.NewClient(stateward.Addresses(addr), append(transportOptions(t), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// wantDeadline checks a deadline the server saw: at most expected, and not much less (the trip).
func wantDeadline(t *testing.T, calls []seen, expected time.Duration, what string) {
	t.Helper()
	if len(calls) == 0 {
		t.Fatalf("%s: not seen", what)
	}
	got := calls[len(calls)-1].deadline
	if got > expected+5*time.Millisecond || got < expected-1500*time.Millisecond {
		t.Errorf("%s: deadline %s, expected about %s", what, got, expected)
	}
}

func TestSpecDeadlines(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		spec := loadSpec(t)
		fake, addr := startFake(t)
		c := specClient(t, addr, stateward.WithoutRetry())
		background := context.Background()
		if _, err := c.Set(background, app, "s", []byte("v"), stateward.SetOptions{}); err != nil {
			t.Fatal(err)
		}
		wantDeadline(t, fake.calls("Set"), ms(spec.Deadlines.DefaultTimeoutMs), "Set")
		if !spec.Deadlines.WaitingCallAddsWait || !spec.Deadlines.ExplicitDeadlineIsTotal {
			t.Fatal("the spec changed the deadline rules: change this client and test")
		}
		if _, err := c.Lock(background, app, "s", stateward.LockOptions{Wait: 2 * time.Second}); err != nil {
			t.Fatal(err)
		}
		wantDeadline(t, fake.calls("Lock"), ms(spec.Deadlines.DefaultTimeoutMs)+2*time.Second, "a waiting Lock")
		ctx, cancel := context.WithTimeout(background, 1234*time.Millisecond)
		defer cancel()
		if _, err := c.Lock(ctx, app, "s", stateward.LockOptions{Wait: 2 * time.Second}); err != nil {
			t.Fatal(err)
		}
		wantDeadline(t, fake.calls("Lock"), 1234*time.Millisecond, "a waiting Lock under a context deadline")
	})
}

func TestSpecWithLockDefaults(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		spec := loadSpec(t)
		fake, addr := startFake(t)
		c := specClient(t, addr, stateward.WithoutRetry())
		if err := c.WithLock(context.Background(), app, "s", func([]byte) ([]byte, error) { return []byte("new"), nil }); err != nil {
			t.Fatal(err)
		}
		locks := fake.calls("Lock")
		if len(locks) != 1 {
			t.Fatalf("%d Locks", len(locks))
		}
		r := locks[0].request.(*statewardv1.LockRequest)
		h := spec.LockHelper
		if int64(r.GetWaitMs()) != h.DefaultWaitMs || r.GetCreate() != h.Create || r.GetLeaseMs() != h.LeaseMs || r.GetTtlSeconds() != h.TTLSeconds {
			t.Errorf("WithLock sent %v, spec %+v", r, h)
		}
		wantDeadline(t, locks, ms(spec.Deadlines.DefaultTimeoutMs+h.DefaultWaitMs), "WithLock's Lock")
	})
}

func TestSpecUnavailableRetry(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		spec := loadSpec(t)
		u := spec.UnavailableRetry
		fake, addr := startFake(t)
		c := specClient(t, addr)
		ctx := ctxT(t)
		calls := map[string]func() error{
			"Get":     func() error { _, err := c.Get(ctx, app, "s", 0); return err },
			"Expire":  func() error { _, err := c.Expire(ctx, app, "s", 0); return err },
			"Release": func() error { _, err := c.Release(ctx, app, "s", 1); return err },
			"Lock":    func() error { _, err := c.Lock(ctx, app, "s", stateward.LockOptions{}); return err },
			"Set":     func() error { _, err := c.Set(ctx, app, "s", []byte("v"), stateward.SetOptions{}); return err },
			"Remove":  func() error { _, err := c.Remove(ctx, app, "s", 0); return err },
		}
		for method, call := range calls {
			if slices.Contains(u.Methods, method) == slices.Contains(u.Never, method) {
				t.Errorf("%s must be in exactly one of the spec's lists", method)
			}
			fake.mu.Lock()
			fake.unavailable[method] = 100
			fake.mu.Unlock()
			if err := call(); status.Code(err) != codes.Unavailable {
				t.Errorf("%s: %v, want Unavailable", method, err)
			}
			want := 1
			if slices.Contains(u.Methods, method) {
				want = u.MaxAttempts
			}
			if got := len(fake.calls(method)); got != want {
				t.Errorf("%s: %d attempts, want %d", method, got, want)
			}
			fake.mu.Lock()
			fake.unavailable[method] = 0
			fake.mu.Unlock()
		}
	})
}

func TestSpecWaiterLimitBackoff(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		spec := loadSpec(t)
		w := spec.WaiterLimitRetry
		fake, addr := startFake(t)
		c := specClient(t, addr, stateward.WithoutRetry())
		const refusals = 8
		var expected, uncapped time.Duration
		for n, backoff := 0, ms(w.InitialBackoffMs); n < refusals; n, backoff = n+1, backoff*time.Duration(w.BackoffMultiplier) {
			expected += min(backoff, ms(w.MaxBackoffMs))
			uncapped += backoff
		}
		fake.tooManyWaiters = refusals
		// The jitter pinned at (nearly) its top: the delays are the backoffs themselves.
		defer stateward.SetJitter(func() float64 { return 0.999 })()
		started := time.Now()
		if err := c.WithLock(context.Background(), app, "s", func([]byte) ([]byte, error) { return []byte("v"), nil }); err != nil {
			t.Fatal(err)
		}
		elapsed := time.Since(started)
		locks := fake.calls("Lock")
		if len(locks) != refusals+1 {
			t.Fatalf("%d Locks, want %d", len(locks), refusals+1)
		}
		if elapsed < expected*99/100 || elapsed >= uncapped {
			t.Errorf("retried for %s in all; the capped backoffs add up to %s, uncapped to %s", elapsed, expected, uncapped)
		}
		for i := 1; i < len(locks); i++ {
			if locks[i].request.(*statewardv1.LockRequest).GetWaitMs() > locks[i-1].request.(*statewardv1.LockRequest).GetWaitMs() {
				t.Errorf("a retry waits longer than the one before: %v", locks)
			}
		}
	})
}

func TestSpecFullQueueForTheWholeWait(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		spec := loadSpec(t)
		fake, addr := startFake(t)
		c := specClient(t, addr, stateward.WithoutRetry())
		fake.tooManyWaiters = 1000
		started := time.Now()
		err := c.WithLockOptions(context.Background(), app, "s", stateward.LockOptions{Wait: 300 * time.Millisecond},
			func([]byte) ([]byte, error) { return nil, errors.New("fn must not run") })
		wantStatus(t, err, codeNamed(t, spec.LockHelper.WaitExhausted.Code), spec.LockHelper.WaitExhausted.Reason)
		locks := fake.calls("Lock")
		if last := locks[len(locks)-1].request.(*statewardv1.LockRequest); last.GetWaitMs() != 0 {
			t.Errorf("the last look waits %d ms", last.GetWaitMs())
		}
		if elapsed := time.Since(started); elapsed > 1300*time.Millisecond {
			t.Errorf("took %s for a wait of 300 ms", elapsed)
		}
	})
}

func TestSpecWithoutWaiterLimitRetry(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		spec := loadSpec(t)
		fake, addr := startFake(t)
		c := specClient(t, addr, stateward.WithoutRetry(), stateward.WithoutWaiterLimitRetry())
		fake.tooManyWaiters = 1
		err := c.WithLock(context.Background(), app, "s", func([]byte) ([]byte, error) { return nil, nil })
		wantStatus(t, err, codeNamed(t, spec.WaiterLimitRetry.On.Code), spec.WaiterLimitRetry.On.Reason)
		if n := len(fake.calls("Lock")); n != 1 {
			t.Errorf("%d Locks", n)
		}
	})
}

func TestSpecUnknownOutcome(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		spec := loadSpec(t)
		fake, addr := startFake(t)
		c := specClient(t, addr, stateward.WithoutRetry())
		fake.getOutcome = statewardv1.Outcome_OUTCOME_UNSPECIFIED
		_, err := c.Get(context.Background(), app, "s", 0)
		check := spec.ClientChecks["unknown_outcome"]
		wantStatus(t, err, codeNamed(t, check.Code), check.Reason)
	})
}

func TestSpecUnsendableValues(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		spec := loadSpec(t)
		check := spec.ClientChecks["uint32_fields"]
		c := specClient(t, "127.0.0.1:1", stateward.WithoutRetry())
		ctx := context.Background()
		tooLong := time.Duration(check.Max+1) * time.Millisecond
		for field, call := range map[string]func() error{
			"wait_ms":     func() error { _, err := c.Get(ctx, app, "s", -time.Millisecond); return err },
			"lease_ms":    func() error { _, err := c.Lock(ctx, app, "s", stateward.LockOptions{Lease: tooLong}); return err },
			"ttl_seconds": func() error { _, err := c.Expire(ctx, app, "s", -time.Second); return err },
		} {
			err := call()
			wantStatus(t, err, codeNamed(t, check.Code), check.Reason)
			var e *stateward.Error
			if !errors.As(err, &e) || e.Metadata["field"] != field || e.Metadata["limit"] != fmt.Sprint(check.Max) {
				t.Errorf("%s: %v, metadata %v", field, err, e.Metadata)
			}
		}
	})
}

func TestSpecClosedClient(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		spec := loadSpec(t)
		check := spec.ClientChecks["closed_client"]
		c := specClient(t, stateward.DefaultAddress)
		_ = c.Close()
		_, err := c.Get(context.Background(), app, "s", 0)
		wantStatus(t, err, codeNamed(t, check.Code), check.Reason)
	})
}

func TestSpecLockWaitTimeoutAgainstARealServer(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		spec := loadSpec(t)
		c, ctx, sid := newClient(t), ctxT(t), newSID()
		holder, err := c.Lock(ctx, app, sid, stateward.LockOptions{Create: true})
		noErr(t, err)
		err = c.WithLockOptions(ctx, app, sid, stateward.LockOptions{Wait: 200 * time.Millisecond}, func([]byte) ([]byte, error) { return nil, nil })
		wantStatus(t, err, codeNamed(t, spec.LockHelper.WaitExhausted.Code), spec.LockHelper.WaitExhausted.Reason)
		if ok, err := c.Release(ctx, app, sid, holder.LockID); err != nil || !ok {
			t.Fatal(ok, err)
		}
		created := false
		noErr(t, c.WithLock(ctx, app, newSID(), func(data []byte) ([]byte, error) { created = len(data) == 0; return []byte("x"), nil }))
		if created != spec.LockHelper.Create {
			t.Errorf("WithLock on a missing session: created %v, spec %v", created, spec.LockHelper.Create)
		}
	})
}

// With its one queue place (--max-waiters 1) taken, the server refuses a waiting Lock with
// TOO_MANY_WAITERS; WithLock retries within its wait and gets the lock after the one queued.
func TestSpecWaiterLimitRetryAgainstARealServer(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		spec := loadSpec(t)
		c, ctx, sid := newClient(t, tightServer(t).addr), ctxT(t), newSID()
		holder, err := c.Lock(ctx, app, sid, stateward.LockOptions{Create: true})
		noErr(t, err)
		queued := make(chan error, 1)
		go func() {
			queued <- c.WithLock(ctx, app, sid, func(data []byte) ([]byte, error) { return append(data, 'A'), nil })
		}()
		// Until that waiter holds the queue place: a waiting Lock without retries is then refused.
		on := spec.WaiterLimitRetry.On
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			r, err := c.Lock(ctx, app, sid, stateward.LockOptions{Wait: time.Millisecond})
			if err != nil {
				wantStatus(t, err, codeNamed(t, on.Code), on.Reason)
				break
			}
			if r.Outcome != stateward.OutcomeLocked || time.Now().After(deadline) {
				t.Fatalf("the waiter never queued (%v)", r.Outcome)
			}
		}
		go func() {
			// Ordering only: let the WithLock below meet the full queue first.
			time.Sleep(300 * time.Millisecond)
			_, _ = c.Release(ctx, app, sid, holder.LockID)
		}()
		noErr(t, c.WithLockOptions(ctx, app, sid, stateward.LockOptions{Wait: 8 * time.Second},
			func(data []byte) ([]byte, error) { return append(data, 'B'), nil }))
		noErr(t, <-queued)
		r, err := c.Get(ctx, app, sid, 0)
		noErr(t, err)
		if string(r.Data) != "AB" {
			t.Errorf("data %q, want AB", r.Data)
		}
	})
}
