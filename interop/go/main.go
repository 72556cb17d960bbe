// Command interop-go is the Go participant of the interop scenario (interop/run_interop.py): it
// observes the session locked by the Python participant, waits for the lock on the server, reads
// the session under it, releases it, and reports lock ids and versions as JSON lines on stdout.
// It never prints the session id or the data (only the data's SHA-256).
//
// Environment: STATEWARD_ADDR, STATEWARD_APP, STATEWARD_SESSION; against a server with TLS and an
// auth file also STATEWARD_CA_FILE (the CA of its certificate), STATEWARD_TOKEN (this
// participant's token) and STATEWARD_DENIED_APP (an app its principal may not use: it reports the
// refusal as the event "denied").
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/stateward/stateward/client/go/stateward"
)

func emit(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func run() error {
	addr, app, sid := os.Getenv("STATEWARD_ADDR"), os.Getenv("STATEWARD_APP"), os.Getenv("STATEWARD_SESSION")
	if addr == "" || sid == "" {
		return fmt.Errorf("STATEWARD_ADDR and STATEWARD_SESSION are required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var opts []stateward.Option
	if ca := os.Getenv("STATEWARD_CA_FILE"); ca != "" {
		opts = append(opts, stateward.WithTLS(stateward.TLSOptions{CAFile: ca}))
	}
	if token := os.Getenv("STATEWARD_TOKEN"); token != "" {
		opts = append(opts, stateward.WithToken(token))
	}
	c, err := stateward.NewClient(stateward.Addresses(addr), opts...)
	if err != nil {
		return err
	}
	defer c.Close()

	g, err := c.Get(ctx, app, sid, 0)
	if err != nil {
		return err
	}
	emit(map[string]any{"event": "observed", "outcome": g.Outcome.String(), "holder_lock_id": g.LockID})

	emit(map[string]any{"event": "waiting"})
	start := time.Now()
	l, err := c.Lock(ctx, app, sid, stateward.LockOptions{Wait: 30 * time.Second})
	if err != nil {
		return err
	}
	waited := time.Since(start)
	released, err := c.Release(ctx, app, sid, l.LockID)
	if err != nil {
		return err
	}
	emit(map[string]any{
		"event": "locked", "outcome": l.Outcome.String(), "lock_id": l.LockID, "version": l.Version,
		"data_sha256": digest(l.Data), "waited_ms": waited.Milliseconds(), "released": released,
	})

	// The same read through WithLock (read-only: fn returns nil, so it only releases).
	var seen []byte
	if err := c.WithLock(ctx, app, sid, func(data []byte) ([]byte, error) {
		seen = data
		return nil, nil
	}); err != nil {
		return err
	}
	after, err := c.Get(ctx, app, sid, 0)
	if err != nil {
		return err
	}
	emit(map[string]any{"event": "with-lock", "data_sha256": digest(seen), "version_after": after.Version})

	if denied := os.Getenv("STATEWARD_DENIED_APP"); denied != "" {
		_, err := c.Get(ctx, denied, sid, 0)
		var se *stateward.Error
		if !errors.As(err, &se) {
			return fmt.Errorf("a Get on the denied app returned %v, not a *stateward.Error", err)
		}
		emit(map[string]any{"event": "denied", "code": se.Code.String(), "reason": se.ReasonName, "principal": se.Metadata["principal"], "app": se.Metadata["app"]})
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "interop-go:", err)
		os.Exit(1)
	}
}
