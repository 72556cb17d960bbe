package stateward_test

import (
	"context"
	"log"

	"google.golang.org/grpc"

	"github.com/stateward/stateward/client/go/stateward"
)

// The default transport batches calls over one Pipeline stream per endpoint; WithUnary sends each
// call as its own rpc, and WithDialOptions overrides the 16 MiB flow-control windows.
func ExampleWithUnary() {
	c, err := stateward.NewClient(stateward.Addresses(stateward.DefaultAddress),
		stateward.WithUnary(),
		stateward.WithDialOptions(grpc.WithInitialWindowSize(1<<20), grpc.WithInitialConnWindowSize(1<<20)))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Get(context.Background(), "shop", "4fb2c0e7a1d94e0b", 0); err != nil {
		log.Print(err)
	}
}
