package stateward_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// testServer is a real Stateward server (node server/dist/cli.js) on a free 127.0.0.1 port.
type testServer struct {
	addr    string
	cmd     *exec.Cmd
	log     *bytes.Buffer
	done    chan struct{} // closed when the process has exited
	waitErr error
}

var shared *testServer

// tight is a second server with one queue place per session (--max-waiters 1), started by the
// first test that needs it (tightServer) and stopped by TestMain.
var tight struct {
	once   sync.Once
	server *testServer
	err    error
}

func tightServer(t *testing.T) *testServer {
	t.Helper()
	tight.once.Do(func() { tight.server, tight.err = startServer("--max-waiters", "1") })
	if tight.err != nil {
		t.Fatal(tight.err)
	}
	return tight.server
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts the server and waits (bounded) until its health check answers SERVING.
func startServer(extra ...string) (*testServer, error) {
	cli := os.Getenv("STATEWARD_SERVER_CLI")
	if cli == "" {
		cli = filepath.Join(repoRoot(), "server", "dist", "cli.js")
	}
	if _, err := os.Stat(cli); err != nil {
		return nil, fmt.Errorf("%s is missing: build the server first (npx tsc -b, or make build)", cli)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &testServer{addr: "127.0.0.1:" + strconv.Itoa(port), log: &bytes.Buffer{}}
	args := append([]string{cli, "serve", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--log-level", "warn"}, extra...)
	s.cmd = exec.Command("node", args...)
	s.cmd.Dir = repoRoot()
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	s.done = make(chan struct{})
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.kill()
		return nil, err
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(20 * time.Second)
	for delay := 20 * time.Millisecond; ; delay = min(delay*2, 250*time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("the server exited before it was ready (%v):\n%s", s.waitErr, s.log)
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("the server was not ready within 20 s:\n%s", s.log)
		}
	}
}

func (s *testServer) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// stop sends SIGTERM and waits for the exit, bounded (then kills).
func (s *testServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.kill()
	}
}

func TestMain(m *testing.M) {
	var err error
	shared, err = startServer("--max-wait-ms", "20000")
	if err != nil {
		fmt.Fprintln(os.Stderr, "stateward test server:", err)
		os.Exit(1)
	}
	code := m.Run()
	shared.stop()
	if tight.server != nil {
		tight.server.stop()
	}
	removeTestCerts()
	os.Exit(code)
}
