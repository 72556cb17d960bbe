package main

import (
	"fmt"

	"github.com/stateward/stateward/client/go/stateward"
)

// The Go SDK's transports this driver can ask for, the SDK's default first. The SDK in this tree
// has only unary calls. Once its Pipeline transport is the default with a WithUnary() option, this
// becomes {"pipeline", "unary"}, and sdkTransportOptions returns nil for "pipeline" and
// []stateward.Option{stateward.WithUnary()} for "unary"; the load tester runs every transport listed
// here (-list-transports) and judges the first.
var sdkTransports = []string{"unary"}

// sdkTransportOptions are the client options of one of sdkTransports.
func sdkTransportOptions(transport string) ([]stateward.Option, error) {
	switch transport {
	case "unary":
		return nil, nil
	}
	return nil, fmt.Errorf("-transport %q: this Go SDK offers %v", transport, sdkTransports)
}
