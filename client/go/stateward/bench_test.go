package stateward_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stateward/stateward/client/go/stateward"
)

// BenchmarkGet64 measures Get of 1 KiB sessions (a pool of 1000) from 64 goroutines against the
// test server, on each transport: ops/s, and for the pipeline the operations per message.
//
//	go test -run '^$' -bench Get64 -benchtime 3s ./stateward
func BenchmarkGet64(b *testing.B) {
	const callers, pool = 64, 1000
	for _, transport := range []struct {
		name string
		opts []stateward.Option
	}{{"pipeline", nil}, {"unary", []stateward.Option{stateward.WithUnary()}}} {
		b.Run(transport.name, func(b *testing.B) {
			c, err := stateward.NewClient(stateward.Addresses(shared.addr), transport.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			data := make([]byte, 1024)
			sids := make([]string, pool)
			for i := range sids {
				sids[i] = fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
				if _, err := c.Set(ctx, app, sids[i], data, stateward.SetOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			messages0, operations0 := c.PipelineStats()
			var next atomic.Int64
			var failed atomic.Value
			var wg sync.WaitGroup
			b.ResetTimer()
			started := time.Now()
			for g := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
						r, err := c.Get(ctx, app, sids[(int(n)+g)%pool], 0)
						if err != nil {
							failed.Store(err.Error())
							return
						}
						if len(r.Data) != len(data) {
							failed.Store(fmt.Sprintf("%d bytes, want %d", len(r.Data), len(data)))
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(started)
			b.StopTimer()
			if f := failed.Load(); f != nil {
				b.Fatal(f)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
			if messages, operations := c.PipelineStats(); messages > messages0 {
				b.ReportMetric(float64(operations-operations0)/float64(messages-messages0), "ops/msg")
			}
		})
	}
}
