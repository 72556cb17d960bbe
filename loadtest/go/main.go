// Command stateward-loadtest-go is the load tester's Go caller (issue 16): a closed-loop Get
// workload at -concurrency goroutines for -duration over a session pool, against Stateward through
// the Go SDK, or Redis through go-redis (plain GET of the data key, or EVALSHA of the Lua Get script
// the Node load tester uses, its text read from -lua-script-file). It prints JSON lines on stdout:
// {"event":"measuring"} when the measured phase starts, {"event":"measured"} when its last call
// has completed, then {"event":"result",...}: ops/s, latency percentiles (µs) and the histogram,
// outcomes, errors by status, the time line and its own CPU time. Session ids and data are never
// printed. The Node side (loadtest/src/go-driver.ts) builds and runs it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/stateward/stateward/client/go/stateward"
)

type config struct {
	target      string
	address     string
	transport   string
	app         string
	pool        int
	poolPrefix  string
	payload     int
	seed        bool
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	interval    time.Duration
	luaFile     string
	redisKeys   string
	ttlSeconds  int
	redisPool   int
}

// getFn reads session i and returns its outcome name ("OK", "NOT_FOUND", "LOCKED").
type getFn func(ctx context.Context, i int) (string, error)

type driver struct {
	get   getFn
	seed  func(ctx context.Context, i int, data []byte) error
	close func()
	info  map[string]any
}

func parseFlags(args []string) (*config, bool, error) {
	fs := flag.NewFlagSet("stateward-loadtest-go", flag.ContinueOnError)
	c := &config{}
	list := fs.Bool("list-transports", false, "print the Go SDK transports as JSON ({\"transports\":[...]}, the default first) and exit")
	fs.StringVar(&c.target, "target", "", "stateward | redis-get | redis-evalsha")
	fs.StringVar(&c.address, "address", "", "host:port of the server")
	fs.StringVar(&c.transport, "transport", sdkTransports[0], "stateward: the Go SDK's transport (-list-transports)")
	fs.StringVar(&c.app, "app", "loadtest", "stateward: the app of the sessions")
	fs.IntVar(&c.pool, "pool", 10_000, "sessions in the pool")
	fs.StringVar(&c.poolPrefix, "pool-prefix", "pool-10000-1024-1024-", "session ids are <prefix>0 … <prefix>(pool-1)")
	fs.IntVar(&c.payload, "payload", 1024, "bytes per session written by -seed")
	fs.BoolVar(&c.seed, "seed", false, "write every session of the pool before the load")
	fs.IntVar(&c.concurrency, "concurrency", 64, "goroutines, each with one call in flight")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured phase")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unrecorded warm-up before it")
	fs.DurationVar(&c.interval, "interval", 250*time.Millisecond, "interval of the time line")
	fs.StringVar(&c.luaFile, "lua-script-file", "", "redis-evalsha: the Lua Get script (KEYS: lock, data; ARGV: ttl seconds)")
	fs.StringVar(&c.redisKeys, "redis-keys", "loadtest:{$ID}:lock,loadtest:{$ID}:data", "redis: the lock and data key templates, $ID the session id")
	fs.IntVar(&c.ttlSeconds, "ttl-seconds", 1200, "redis: the session TTL (EXPIRE of the script, EX of -seed)")
	fs.IntVar(&c.redisPool, "redis-pool-size", 0, "redis: go-redis PoolSize (0: go-redis's default, 10 per GOMAXPROCS)")
	if err := fs.Parse(args); err != nil {
		return nil, false, err
	}
	if *list {
		return c, true, nil
	}
	switch {
	case c.target != "stateward" && c.target != "redis-get" && c.target != "redis-evalsha":
		return nil, false, fmt.Errorf("-target %q: expected stateward, redis-get or redis-evalsha", c.target)
	case c.address == "":
		return nil, false, errors.New("-address is required")
	case c.pool < 1 || c.concurrency < 1 || c.payload < 0:
		return nil, false, errors.New("-pool and -concurrency must be ≥ 1, -payload ≥ 0")
	case c.duration <= 0 || c.warmup < 0 || c.interval <= 0:
		return nil, false, errors.New("-duration and -interval must be > 0, -warmup ≥ 0")
	case c.target == "redis-evalsha" && c.luaFile == "":
		return nil, false, errors.New("-target redis-evalsha needs -lua-script-file")
	}
	return c, false, nil
}

func sessionIDs(c *config) []string {
	ids := make([]string, c.pool)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%d", c.poolPrefix, i)
	}
	return ids
}

func newStatewardDriver(c *config, ids []string) (*driver, error) {
	opts, err := sdkTransportOptions(c.transport)
	if err != nil {
		return nil, err
	}
	client, err := stateward.NewClient(stateward.Addresses(c.address), opts...)
	if err != nil {
		return nil, err
	}
	return &driver{
		get: func(ctx context.Context, i int) (string, error) {
			r, err := client.Get(ctx, c.app, ids[i], 0)
			if err != nil {
				return "", err
			}
			return outcomeName(r.Outcome), nil
		},
		seed: func(ctx context.Context, i int, data []byte) error {
			_, err := client.Set(ctx, c.app, ids[i], data, stateward.SetOptions{})
			return err
		},
		close: func() { _ = client.Close() },
		info:  map[string]any{"transport": c.transport},
	}, nil
}

func outcomeName(o stateward.Outcome) string {
	switch o {
	case stateward.OutcomeOK:
		return "OK"
	case stateward.OutcomeNotFound:
		return "NOT_FOUND"
	case stateward.OutcomeLocked:
		return "LOCKED"
	}
	return o.String()
}

func newRedisDriver(c *config, ids []string) (*driver, error) {
	templates := strings.Split(c.redisKeys, ",")
	if len(templates) != 2 || !strings.Contains(templates[0], "$ID") || !strings.Contains(templates[1], "$ID") {
		return nil, fmt.Errorf("-redis-keys %q: expected two templates with $ID, lock key first", c.redisKeys)
	}
	// Keys built once: the load loop then allocates nothing for them.
	lockKeys := make([]string, len(ids))
	dataKeys := make([]string, len(ids))
	for i, id := range ids {
		lockKeys[i] = strings.ReplaceAll(templates[0], "$ID", id)
		dataKeys[i] = strings.ReplaceAll(templates[1], "$ID", id)
	}
	rdb := redis.NewClient(&redis.Options{Addr: c.address, PoolSize: c.redisPool})
	d := &driver{
		seed: func(ctx context.Context, i int, data []byte) error {
			return rdb.Set(ctx, dataKeys[i], data, time.Duration(c.ttlSeconds)*time.Second).Err()
		},
		close: func() { _ = rdb.Close() },
		info:  map[string]any{"redisPoolSize": rdb.Options().PoolSize},
	}
	if c.target == "redis-get" {
		d.get = func(ctx context.Context, i int) (string, error) {
			_, err := rdb.Get(ctx, dataKeys[i]).Bytes()
			if errors.Is(err, redis.Nil) {
				return "NOT_FOUND", nil
			}
			if err != nil {
				return "", err
			}
			return "OK", nil
		}
		return d, nil
	}
	script, err := os.ReadFile(c.luaFile)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	sha, err := rdb.ScriptLoad(context.Background(), string(script)).Result()
	if err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("SCRIPT LOAD: %w", err)
	}
	ttl := c.ttlSeconds
	d.get = func(ctx context.Context, i int) (string, error) {
		reply, err := rdb.EvalSha(ctx, sha, []string{lockKeys[i], dataKeys[i]}, ttl).Slice()
		if err != nil {
			return "", err
		}
		// {1, data} | {2} | {3, holder}, as redis-session-ops.ts reads it.
		if len(reply) > 0 {
			if code, ok := reply[0].(int64); ok {
				switch code {
				case 1:
					return "OK", nil
				case 2:
					return "NOT_FOUND", nil
				case 3:
					return "LOCKED", nil
				}
			}
		}
		return "", errUnexpectedReply
	}
	return d, nil
}

var errUnexpectedReply = errors.New("unexpected reply from the Redis script")

// statusName names a failure as the Node load tester does (status-codes.ts): the gRPC status
// name, REDIS_ERROR for a Redis reply, TIMEOUT for a deadline, CLIENT_ERROR else.
func statusName(err error) string {
	var swErr *stateward.Error
	if errors.As(err, &swErr) {
		return grpcName(swErr.Code)
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return grpcName(s.Code())
	}
	if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
		return "TIMEOUT"
	}
	var redisErr redis.Error
	if errors.As(err, &redisErr) || errors.Is(err, errUnexpectedReply) {
		return "REDIS_ERROR"
	}
	return "CLIENT_ERROR"
}

var grpcNames = map[codes.Code]string{
	codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

func grpcName(c codes.Code) string {
	if name, ok := grpcNames[c]; ok {
		return name
	}
	return fmt.Sprintf("GRPC_%d", int(c))
}

// seedPool writes every session with -concurrency goroutines; the first failure stops it.
func seedPool(d *driver, c *config) error {
	data := make([]byte, c.payload)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 16))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	var next int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for g := 0; g < c.concurrency; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := int(next)
				next++
				stop := first != nil
				mu.Unlock()
				if stop || i >= c.pool {
					return
				}
				if err := d.seed(context.Background(), i, data); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("seeding the pool: %s: %w", statusName(err), err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// recorder is one goroutine's record of the measured phase.
type recorder struct {
	hist      *histogram
	outcomes  map[string]uint64
	errors    map[string]uint64
	counts    []uint64            // completions per interval
	intervals []map[uint64]uint64 // successes' bucket values per interval
	last      time.Time           // last completion
}

func (r *recorder) interval(i int) {
	for len(r.counts) <= i {
		r.counts = append(r.counts, 0)
		r.intervals = append(r.intervals, nil)
	}
}

type intervalLatency struct {
	StartMs float64 `json:"startMs"`
	Count   uint64  `json:"count"`
	P50     *uint64 `json:"p50"`
	P99     *uint64 `json:"p99"`
	Max     *uint64 `json:"max"`
}

func cpuUs() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec)*1e6 + float64(t.Usec) }
	return tv(ru.Utime) + tv(ru.Stime)
}

func emit(v map[string]any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(append(b, '\n'))
}

func run(c *config) error {
	ids := sessionIDs(c)
	var d *driver
	var err error
	if c.target == "stateward" {
		d, err = newStatewardDriver(c, ids)
	} else {
		d, err = newRedisDriver(c, ids)
	}
	if err != nil {
		return err
	}
	defer d.close()
	seedMs, seeded := 0.0, 0
	if c.seed {
		seeded = c.pool
		started := time.Now()
		if err := seedPool(d, c); err != nil {
			return err
		}
		seedMs = float64(time.Since(started).Microseconds()) / 1000
	}

	start := time.Now()
	measureFrom := start.Add(c.warmup)
	end := measureFrom.Add(c.duration)
	recorders := make([]*recorder, c.concurrency)
	var wg sync.WaitGroup
	for g := range recorders {
		rec := &recorder{hist: newHistogram(), outcomes: map[string]uint64{}, errors: map[string]uint64{}}
		recorders[g] = rec
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
			ctx := context.Background()
			for {
				sent := time.Now()
				if !sent.Before(end) {
					return
				}
				outcome, err := d.get(ctx, rnd.IntN(c.pool))
				done := time.Now()
				// Calls that complete in the warm-up are not recorded; those in flight at the end are.
				if done.Before(measureFrom) {
					continue
				}
				rec.last = done
				i := int(done.Sub(measureFrom) / c.interval)
				rec.interval(i)
				rec.counts[i]++
				if err != nil {
					rec.errors[statusName(err)]++
					continue
				}
				rec.outcomes[outcome]++
				us := clampUs(uint64(done.Sub(sent).Microseconds()))
				rec.hist.record(us)
				if rec.intervals[i] == nil {
					rec.intervals[i] = map[uint64]uint64{}
				}
				rec.intervals[i][bucketValue(bucketOf(us))]++
			}
		}(uint64(g))
	}
	time.Sleep(time.Until(measureFrom))
	cpuBefore := cpuUs()
	emit(map[string]any{"event": "measuring"})
	wg.Wait()
	cpuAfter := cpuUs()
	emit(map[string]any{"event": "measured"})

	total := newHistogram()
	outcomes := map[string]uint64{}
	failures := map[string]uint64{}
	last := measureFrom
	planned := int((c.duration + c.interval - 1) / c.interval)
	counts := make([]uint64, planned)
	perInterval := make([]*histogram, planned)
	var completed uint64
	for _, rec := range recorders {
		total.add(rec.hist)
		for k, v := range rec.outcomes {
			outcomes[k] += v
			completed += v
		}
		for k, v := range rec.errors {
			failures[k] += v
			completed += v
		}
		if rec.last.After(last) {
			last = rec.last
		}
		// The time line is the planned measured phase only: the in-flight tail is in the totals.
		for i := 0; i < planned && i < len(rec.counts); i++ {
			counts[i] += rec.counts[i]
			for v, n := range rec.intervals[i] {
				if perInterval[i] == nil {
					perInterval[i] = newHistogram()
				}
				b := bucketOf(v)
				perInterval[i].counts[b] += n
				perInterval[i].total += n
				if v > perInterval[i].max {
					perInterval[i].max = v
				}
			}
		}
	}
	latency := make([]intervalLatency, planned)
	for i := range latency {
		latency[i] = intervalLatency{StartMs: float64((time.Duration(i) * c.interval).Microseconds()) / 1000}
		if h := perInterval[i]; h != nil && h.total > 0 {
			p50, p99, mx := h.percentile(50), h.percentile(99), h.max
			latency[i].Count, latency[i].P50, latency[i].P99, latency[i].Max = h.total, &p50, &p99, &mx
		}
	}
	measuredMs := float64(last.Sub(measureFrom).Microseconds()) / 1000
	opsPerSecond := 0.0
	if measuredMs > 0 {
		opsPerSecond = float64(completed) * 1000 / measuredMs
	}
	mean := 0.0
	if total.total > 0 {
		mean = float64(total.sum) / float64(total.total)
	}
	result := map[string]any{
		"event":        "result",
		"target":       c.target,
		"concurrency":  c.concurrency,
		"pool":         c.pool,
		"durationMs":   float64(c.duration.Microseconds()) / 1000,
		"warmupMs":     float64(c.warmup.Microseconds()) / 1000,
		"measuredMs":   measuredMs,
		"completed":    completed,
		"opsPerSecond": opsPerSecond,
		"latencyUs": map[string]any{
			"count": total.total, "mean": mean, "p50": total.percentile(50), "p90": total.percentile(90),
			"p99": total.percentile(99), "p999": total.percentile(99.9), "max": total.max,
		},
		"histogram":   total.sparse(),
		"outcomes":    outcomes,
		"errors":      failures,
		"intervalMs":  float64(c.interval.Microseconds()) / 1000,
		"timeline":    map[string]any{"counts": counts, "latency": latency},
		"clientCpuUs": cpuAfter - cpuBefore,
		"seeded":      seeded,
		"seedMs":      seedMs,
		"goVersion":   runtime.Version(),
		"gomaxprocs":  runtime.GOMAXPROCS(0),
	}
	for k, v := range d.info {
		result[k] = v
	}
	emit(result)
	return nil
}

func main() {
	c, list, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stateward-loadtest-go:", err)
		os.Exit(2)
	}
	if list {
		emit(map[string]any{"transports": sdkTransports})
		return
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "stateward-loadtest-go:", err)
		os.Exit(1)
	}
}
