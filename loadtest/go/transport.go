package main

import (
	"fmt"

	"github.com/stateward/stateward/client/go/stateward"
)

// The Go SDK's transports this driver can ask for, the SDK's default first: the Pipeline stream,
// and unary calls (WithUnary). The load tester runs every transport listed here
// (-list-transports) and judges the first.
var sdkTransports = []string{"pipeline", "unary"}

// sdkTransportOptions are the client options of one of sdkTransports.
func sdkTransportOptions(transport string) ([]stateward.Option, error) {
	switch transport {
	case "pipeline":
		return nil, nil
	case "unary":
		return []stateward.Option{stateward.WithUnary()}, nil
	}
	return nil, fmt.Errorf("-transport %q: this Go SDK offers %v", transport, sdkTransports)
}
