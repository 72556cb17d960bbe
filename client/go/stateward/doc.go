// Package stateward is the Go client of the Stateward session-state service (the ASP.NET State
// Service model over gRPC): a small idiomatic wrapper over the generated stubs in
// github.com/stateward/stateward/client/go/statewardv1.
//
// Every call takes a context (a call whose context has no deadline gets DefaultTimeout plus any
// server-side wait), errors are *Error values carrying the gRPC code and the server's stable
// reason, and sessions are routed over several nodes by rendezvous hashing exactly like the
// Python and TypeScript clients (proto/PARTITIONING.md).
//
// Across a network, give the client TLS and its principal's token: the token is sent only over
// TLS unless WithInsecureToken says otherwise (NewClient refuses it over plaintext):
//
//	c, err := stateward.NewClient(stateward.Addresses("stateward.internal:42424"),
//		stateward.WithToken(os.Getenv("STATEWARD_TOKEN")),
//		stateward.WithTLS(stateward.TLSOptions{CAFile: "/etc/stateward/ca.pem"}))
//
//	c, err := stateward.NewClient(stateward.Addresses("127.0.0.1:42424"))
//	if err != nil { ... }
//	defer c.Close()
//	err = c.WithLock(ctx, "shop", sessionID, func(data []byte) ([]byte, error) {
//		return append(data, '!'), nil // nil data: release without writing
//	})
package stateward
