package stateward_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
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
			clientCPU0, serverCPU0 := processCPU(b, 0), processCPU(b, shared.cmd.Process.Pid)
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
			clientCPU, serverCPU := processCPU(b, 0)-clientCPU0, processCPU(b, shared.cmd.Process.Pid)-serverCPU0
			if f := failed.Load(); f != nil {
				b.Fatal(f)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
			b.ReportMetric(float64(clientCPU.Microseconds())/float64(b.N), "client-µs/op")
			b.ReportMetric(float64(serverCPU.Microseconds())/float64(b.N), "server-µs/op")
			if messages, operations := c.PipelineStats(); messages > messages0 {
				b.ReportMetric(float64(operations-operations0)/float64(messages-messages0), "ops/msg")
			}
		})
	}
}

// processCPU is the user+system CPU time of a process so far, from /proc/<pid>/stat (0: this one).
func processCPU(b *testing.B, pid int) time.Duration {
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) in parentheses; utime and stime are the
	// 14th and 15th fields, in clock ticks (100 per second on Linux).
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatal(err1, err2)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
