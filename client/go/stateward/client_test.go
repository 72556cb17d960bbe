package stateward_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/stateward/stateward/client/go/stateward"
	"github.com/stateward/stateward/client/go/statewardv1"
)

const app = "go-tests"

var sessionCounter atomic.Int64

func newSID() string {
	return fmt.Sprintf("go-test-%d-%d", time.Now().UnixNano(), sessionCounter.Add(1))
}

func newClient(t *testing.T, addrs ...string) *stateward.Client {
	t.Helper()
	if len(addrs) == 0 {
		addrs = []string{shared.addr}
	}
	c, err := stateward.NewClient(stateward.Addresses(addrs...), append(transportOptions(t), stateward.WithTimeout(10*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantStatus(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	var e *stateward.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want a *stateward.Error", err)
	}
	if e.Code != code || e.ReasonName != reason || status.Code(err) != code {
		t.Fatalf("got %v, want %s [%s]", err, code, reason)
	}
	// A server reason is typed too; the client's own reasons are not in the contract's enum.
	want := statewardv1.ErrorReason_ERROR_REASON_UNSPECIFIED
	if v, ok := statewardv1.ErrorReason_value[reason]; ok {
		want = statewardv1.ErrorReason(v)
	}
	if e.Reason != want {
		t.Fatalf("got Reason %v, want %v", e.Reason, want)
	}
}

func TestGetSetExpireRemove(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		c, ctx, sid := newClient(t), ctxT(t), newSID()
		if r, err := c.Get(ctx, app, sid, 0); err != nil {
			t.Fatal(err)
		} else if r.Outcome != stateward.OutcomeNotFound {
			t.Fatalf("missing session: %v", r.Outcome)
		}
		w, err := c.Set(ctx, app, sid, []byte("hello"), stateward.SetOptions{TTL: time.Minute})
		noErr(t, err)
		if !w.Written || w.Version != 1 {
			t.Fatalf("set: %+v", w)
		}
		r, err := c.Get(ctx, app, sid, 0)
		noErr(t, err)
		if r.Outcome != stateward.OutcomeOK || string(r.Data) != "hello" || r.Version != 1 || r.TTL != time.Minute {
			t.Fatalf("get: %+v", r)
		}
		if e, err := c.Expire(ctx, app, sid, 2*time.Minute); err != nil {
			t.Fatal(err)
		} else if !e.Found || e.TTL != 2*time.Minute {
			t.Fatalf("expire: %+v", e)
		}
		if w, err := c.Set(ctx, app, sid, []byte("x"), stateward.SetOptions{OnlyIfAbsent: true}); err != nil {
			t.Fatal(err)
		} else if w.Written {
			t.Fatal("only-if-absent wrote over an existing session")
		}
		if removed, err := c.Remove(ctx, app, sid, 0); err != nil || !removed {
			t.Fatal("remove: not removed")
		}
		if e, err := c.Expire(ctx, app, sid, 0); err != nil {
			t.Fatal(err)
		} else if e.Found {
			t.Fatal("expire found a removed session")
		}
	})
}

func TestLockSetRelease(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		c, ctx, sid := newClient(t), ctxT(t), newSID()
		if l, err := c.Lock(ctx, app, sid, stateward.LockOptions{}); err != nil {
			t.Fatal(err)
		} else if l.Outcome != stateward.OutcomeNotFound {
			t.Fatalf("lock missing: %v", l.Outcome)
		}
		a, err := c.Lock(ctx, app, sid, stateward.LockOptions{Create: true})
		noErr(t, err)
		if a.Outcome != stateward.OutcomeOK || !a.Created || a.Version != 1 || a.LockID == 0 || a.Lease <= 0 {
			t.Fatalf("lock create: %+v", a)
		}
		if g, err := c.Get(ctx, app, sid, 0); err != nil {
			t.Fatal(err)
		} else if g.Outcome != stateward.OutcomeLocked || g.LockID != a.LockID {
			t.Fatalf("get while locked: %+v", g)
		}
		_, err = c.Set(ctx, app, sid, []byte("x"), stateward.SetOptions{})
		wantStatus(t, err, codes.Aborted, "LOCKED_BY_OTHER")
		if w, err := c.Set(ctx, app, sid, []byte("v2"), stateward.SetOptions{LockID: a.LockID}); err != nil {
			t.Fatal(err)
		} else if w.Version != 2 {
			t.Fatalf("set with lock: %+v", w)
		}
		_, err = c.Set(ctx, app, sid, []byte("x"), stateward.SetOptions{LockID: a.LockID})
		wantStatus(t, err, codes.Aborted, "STALE_LOCK_ID")
		b, err := c.Lock(ctx, app, sid, stateward.LockOptions{})
		noErr(t, err)
		if b.Outcome != stateward.OutcomeOK || b.LockID <= a.LockID || string(b.Data) != "v2" {
			t.Fatalf("second lock: %+v", b)
		}
		if released, err := c.Release(ctx, app, sid, a.LockID); err != nil || released {
			t.Fatal("released with a stale id")
		}
		if released, err := c.Release(ctx, app, sid, b.LockID); err != nil || !released {
			t.Fatal("not released with the holder's id")
		}
		_, err = c.Get(ctx, "bad app", sid, 0)
		wantStatus(t, err, codes.InvalidArgument, "INVALID_FIELD")
	})
}

func TestWithLockWritesBackReleasesAndFailsLoudly(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		c, ctx, sid := newClient(t), ctxT(t), newSID()
		err := c.WithLock(ctx, app, sid, func(data []byte) ([]byte, error) {
			if len(data) != 0 {
				t.Errorf("new session has data %q", data)
			}
			return []byte("cart=1"), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := c.Get(ctx, app, sid, 0); err != nil {
			t.Fatal(err)
		} else if string(r.Data) != "cart=1" || r.Version != 2 {
			t.Fatalf("after write-back: %+v", r)
		}
		// nil data: release only.
		if err := c.WithLock(ctx, app, sid, func([]byte) ([]byte, error) { return nil, nil }); err != nil {
			t.Fatal(err)
		}
		// an error: release, and the caller gets that very error.
		boom := errors.New("boom")
		if err := c.WithLock(ctx, app, sid, func([]byte) ([]byte, error) { return []byte("no"), boom }); err != boom {
			t.Fatalf("got %v, want boom", err)
		}
		// a panic: release, then the panic goes on.
		func() {
			defer func() {
				if recover() == nil {
					t.Error("the panic was swallowed")
				}
			}()
			_ = c.WithLock(ctx, app, sid, func([]byte) ([]byte, error) { panic("boom") })
		}()
		if r, err := c.Get(ctx, app, sid, 0); err != nil {
			t.Fatal(err)
		} else if r.Outcome != stateward.OutcomeOK || r.Version != 2 {
			t.Fatalf("after release-only paths: %+v", r)
		}
		// Without Create a missing session is an error.
		err = c.WithLockOptions(ctx, app, newSID(), stateward.LockOptions{}, func([]byte) ([]byte, error) { return nil, nil })
		wantStatus(t, err, codes.NotFound, stateward.ReasonSessionNotFound)
		// The lease ended during fn: the write fails loudly, nothing written.
		err = c.WithLockOptions(ctx, app, sid, stateward.LockOptions{Lease: 200 * time.Millisecond}, func([]byte) ([]byte, error) {
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if r, err := c.Get(ctx, app, sid, 0); err != nil || r.Outcome != stateward.OutcomeLocked {
					break // the server ended the lease
				}
			}
			return []byte("too late"), nil
		})
		if status.Code(err) != codes.Aborted {
			t.Fatalf("write after lease end: %v", err)
		}
		if r, err := c.Get(ctx, app, sid, 0); err != nil {
			t.Fatal(err)
		} else if string(r.Data) != "cart=1" {
			t.Fatalf("data after a failed write: %q", r.Data)
		}
	})
}

func TestWithLockWaitsOnTheServer(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		c, ctx, sid := newClient(t), ctxT(t), newSID()
		holder, err := c.Lock(ctx, app, sid, stateward.LockOptions{Create: true})
		noErr(t, err)
		// Timeout first: a short wait while the lock is held.
		err = c.WithLockOptions(ctx, app, sid, stateward.LockOptions{Wait: 100 * time.Millisecond}, func([]byte) ([]byte, error) { return nil, nil })
		wantStatus(t, err, codes.Aborted, stateward.ReasonLockWaitTimeout)

		started := make(chan struct{})
		done := make(chan error, 1)
		var seen []byte
		go func() {
			close(started)
			done <- c.WithLock(ctx, app, sid, func(data []byte) ([]byte, error) {
				seen = data
				return append(data, "+waiter"...), nil
			})
		}()
		<-started
		if _, err := c.Set(ctx, app, sid, []byte("holder"), stateward.SetOptions{LockID: holder.LockID}); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the waiter never got the lock")
		}
		if string(seen) != "holder" {
			t.Fatalf("the waiter saw %q", seen)
		}
		if r, err := c.Get(ctx, app, sid, 0); err != nil {
			t.Fatal(err)
		} else if string(r.Data) != "holder+waiter" {
			t.Fatalf("final data %q", r.Data)
		}
	})
}

func TestRoutingAcrossTwoServers(t *testing.T) {
	// The servers' cleanups are the parent test's: they run after both subtests and their clients.
	one, err := startServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(one.stop)
	two, err := startServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(two.stop)
	bothTransports(t, func(t *testing.T) {
		farm, onlyOne, onlyTwo := newClient(t, one.addr, two.addr), newClient(t, one.addr), newClient(t, two.addr)
		ctx, sid := ctxT(t), newSID()
		owned := map[string]int{}
		for i := 0; i < 40; i++ {
			key := fmt.Sprintf("%s-%d", sid, i)
			if _, err := farm.Set(ctx, app, key, []byte("x"), stateward.SetOptions{}); err != nil {
				t.Fatal(err)
			}
			owner := farm.Endpoint(app, key).Address
			owned[owner]++
			direct, elsewhere := onlyOne, onlyTwo
			if owner == two.addr {
				direct, elsewhere = onlyTwo, onlyOne
			}
			if r, err := direct.Get(ctx, app, key, 0); err != nil {
				t.Fatal(err)
			} else if r.Outcome != stateward.OutcomeOK {
				t.Fatalf("not on its owner: %v", r.Outcome)
			}
			if r, err := elsewhere.Get(ctx, app, key, 0); err != nil {
				t.Fatal(err)
			} else if r.Outcome != stateward.OutcomeNotFound {
				t.Fatalf("found on the other node: %v", r.Outcome)
			}
		}
		if owned[one.addr] == 0 || owned[two.addr] == 0 {
			t.Fatalf("one node owns everything: %v", owned)
		}
	})
}

func TestClosedClient(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		c := newClient(t)
		_ = c.Close()
		_, err := c.Get(context.Background(), app, newSID(), 0)
		wantStatus(t, err, codes.Canceled, stateward.ReasonClientClosed)
	})
}

func TestWithLockRefusedWriteReleasesTheLock(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		c, ctx, sid := newClient(t), ctxT(t), newSID()
		if _, err := c.Set(ctx, app, sid, []byte("small"), stateward.SetOptions{}); err != nil {
			t.Fatal(err)
		}
		err := c.WithLock(ctx, app, sid, func([]byte) ([]byte, error) {
			return make([]byte, 1024*1024+1), nil // above the server's default --max-item-bytes
		})
		wantStatus(t, err, codes.InvalidArgument, "ITEM_TOO_LARGE")
		r, err := c.Get(ctx, app, sid, 0)
		noErr(t, err)
		if r.Outcome != stateward.OutcomeOK || string(r.Data) != "small" {
			t.Fatalf("after a refused write: %v %q", r.Outcome, r.Data)
		}
	})
}
