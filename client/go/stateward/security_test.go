package stateward_test

// The client's token and TLS options against fake SessionState servers (plaintext, TLS, mutual
// TLS) with certificates made for this run by tools/test-certs/make-test-certs.sh: where the token
// goes and where it never goes, which certificates are refused, NewClient's refusals, and the auth
// refusals as typed errors.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/stateward/stateward/client/go/stateward"
	"github.com/stateward/stateward/client/go/statewardv1"
)

const (
	secApp   = "go-security"
	secToken = "tok-en_123.ABC~"
	clientCN = "web-01.example" // make-test-certs.sh's default client certificate (and other-client's)
)

var (
	certsOnce sync.Once
	certsDir  string
	certsErr  error
)

// testCerts makes the certificates once per test binary (TestMain removes them).
func testCerts(t *testing.T) string {
	t.Helper()
	certsOnce.Do(func() {
		certsDir, certsErr = os.MkdirTemp("", "stateward-go-certs-")
		if certsErr != nil {
			return
		}
		script := filepath.Join(repoRoot(), "tools", "test-certs", "make-test-certs.sh")
		if out, err := exec.Command("bash", script, certsDir).CombinedOutput(); err != nil {
			certsErr = err
			t.Logf("make-test-certs.sh: %s", out)
		}
	})
	if certsErr != nil {
		t.Fatalf("test certificates: %v", certsErr)
	}
	return certsDir
}

func removeTestCerts() {
	if certsDir != "" {
		_ = os.RemoveAll(certsDir)
	}
}

func certFile(t *testing.T, name string) string { return filepath.Join(testCerts(t), name) }

type principal struct {
	name   string
	apps   []string
	access string
}

// secCall is what the fake saw of one call.
type secCall struct {
	method        string
	authorization []string
	clientCN      string
}

// secServer records the authorization metadata and client certificate CN of every call and, with
// tokens, refuses calls as an auth file would.
type secServer struct {
	statewardv1.UnimplementedSessionStateServer
	tokens map[string]principal
	mu     sync.Mutex
	calls  []secCall
}

func refuse(code codes.Code, message, reason string, md map[string]string) error {
	st, err := status.New(code, message).WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: stateward.ErrorDomain, Metadata: md})
	if err != nil {
		return err
	}
	return st.Err()
}

func (s *secServer) admit(ctx context.Context, method, app string, writes bool) error {
	md, _ := metadata.FromIncomingContext(ctx)
	call := secCall{method: method, authorization: md.Get("authorization")}
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.PeerCertificates) > 0 {
			call.clientCN = info.State.PeerCertificates[0].Subject.CommonName
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if s.tokens == nil {
		return nil
	}
	if len(call.authorization) == 0 {
		return refuse(codes.Unauthenticated, "a credential is required", "MISSING_CREDENTIAL", nil)
	}
	p, ok := s.tokens[strings.TrimPrefix(call.authorization[0], "Bearer ")]
	if !ok {
		return refuse(codes.Unauthenticated, "unknown credential", "UNKNOWN_CREDENTIAL", nil)
	}
	if !slices.Contains(p.apps, app) && !slices.Contains(p.apps, "*") {
		return refuse(codes.PermissionDenied, p.name+" may not use app "+app, "APP_NOT_ALLOWED", map[string]string{"principal": p.name, "app": app})
	}
	if writes && p.access == "read-only" {
		return refuse(codes.PermissionDenied, p.name+" is read-only", "READ_ONLY_PRINCIPAL",
			map[string]string{"principal": p.name, "app": app, "access": "read-only", "required": "read-write"})
	}
	return nil
}

func (s *secServer) seen() []secCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *secServer) Get(ctx context.Context, r *statewardv1.GetRequest) (*statewardv1.GetResponse, error) {
	if err := s.admit(ctx, "Get", r.GetApp(), false); err != nil {
		return nil, err
	}
	return &statewardv1.GetResponse{Outcome: statewardv1.Outcome_OUTCOME_NOT_FOUND}, nil
}

func (s *secServer) Set(ctx context.Context, r *statewardv1.SetRequest) (*statewardv1.SetResponse, error) {
	if err := s.admit(ctx, "Set", r.GetApp(), true); err != nil {
		return nil, err
	}
	return &statewardv1.SetResponse{Version: 1, Written: true}, nil
}

// fakeOpts choose the fake's transport: plaintext without cert; the server certificate's base
// name ("server", "expired"); clientCA to require a client certificate from it.
type fakeOpts struct {
	cert     string
	clientCA string
	tokens   map[string]principal
}

func startSecServer(t *testing.T, o fakeOpts) (*secServer, string) {
	t.Helper()
	var opts []grpc.ServerOption
	if o.cert != "" {
		pair, err := tls.LoadX509KeyPair(certFile(t, o.cert+".pem"), certFile(t, o.cert+".key"))
		noErr(t, err)
		cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		if o.clientCA != "" {
			pool := x509.NewCertPool()
			ca, err := os.ReadFile(certFile(t, o.clientCA))
			noErr(t, err)
			pool.AppendCertsFromPEM(ca)
			cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	fake := &secServer{tokens: o.tokens}
	return fake, serveFake(t, fake, opts...)
}

func secClient(t *testing.T, addr string, opts ...stateward.Option) *stateward.Client {
	t.Helper()
	return specClient(t, addr, append([]stateward.Option{stateward.WithTimeout(5 * time.Second)}, opts...)...)
}

func caTLS(t *testing.T) stateward.TLSOptions {
	return stateward.TLSOptions{CAFile: certFile(t, "ca.pem")}
}

func authorizations(calls []secCall) [][]string {
	out := make([][]string, len(calls))
	for i, c := range calls {
		out[i] = c.authorization
	}
	return out
}

func wantAuthorizations(t *testing.T, calls []secCall, want ...[]string) {
	t.Helper()
	got := authorizations(calls)
	if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
		t.Fatalf("authorization metadata %q, want %q", got, want)
	}
}

func wantHandshakeFailure(t *testing.T, c *stateward.Client) {
	t.Helper()
	_, err := c.Get(ctxT(t), secApp, "sid", 0)
	if e := asError(t, err); e.Code != codes.Unavailable {
		t.Fatalf("got %v, want Unavailable (a refused handshake)", err)
	}
}

var bearer = []string{"Bearer " + secToken}

func TestTokenTravelsAsCallCredentialsOverTLS(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		fake, addr := startSecServer(t, fakeOpts{cert: "server"})
		c := secClient(t, addr, stateward.WithToken(secToken), stateward.WithTLS(caTLS(t)))
		_, err := c.Get(ctxT(t), secApp, "sid", 0)
		noErr(t, err)
		_, err = c.Set(ctxT(t), secApp, "sid", []byte("x"), stateward.SetOptions{})
		noErr(t, err)
		ca, err := os.ReadFile(certFile(t, "ca.pem"))
		noErr(t, err)
		_, err = secClient(t, addr, stateward.WithToken(secToken), stateward.WithTLS(stateward.TLSOptions{CAPEM: ca})).Get(ctxT(t), secApp, "sid", 0)
		noErr(t, err)
		wantAuthorizations(t, fake.seen(), bearer, bearer, bearer)
	})
}

func TestTokenComposedWithTransportCredentials(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		fake, addr := startSecServer(t, fakeOpts{cert: "server"})
		creds, err := credentials.NewClientTLSFromFile(certFile(t, "ca.pem"), "")
		noErr(t, err)
		_, err = secClient(t, addr, stateward.WithTransportCredentials(creds), stateward.WithToken(secToken)).Get(ctxT(t), secApp, "sid", 0)
		noErr(t, err)
		_, err = secClient(t, addr, stateward.WithTLS(caTLS(t))).Get(ctxT(t), secApp, "sid", 0)
		noErr(t, err)
		wantAuthorizations(t, fake.seen(), bearer, nil)
	})
}

func TestTokenOverPlaintextNeedsTheOptIn(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		_, err := stateward.NewClient(stateward.Addresses("127.0.0.1:1"), stateward.WithToken(secToken))
		if err == nil || !strings.Contains(err.Error(), "WithInsecureToken") || !strings.Contains(err.Error(), "WithTLS") {
			t.Fatalf("got %v, want an error naming WithInsecureToken and WithTLS", err)
		}
		if strings.Contains(err.Error(), secToken) {
			t.Fatal("the error shows the token")
		}
		fake, addr := startSecServer(t, fakeOpts{})
		_, err = secClient(t, addr, stateward.WithToken(secToken), stateward.WithInsecureToken(), stateward.WithMetadata("x-extra", "1")).
			Get(ctxT(t), secApp, "sid", 0)
		noErr(t, err)
		_, err = secClient(t, addr).Get(ctxT(t), secApp, "sid", 0)
		noErr(t, err)
		wantAuthorizations(t, fake.seen(), bearer, nil)
	})
}

// mislabelled is plaintext that claims to be another protocol: the token must still not be sent.
type mislabelled struct {
	credentials.TransportCredentials
}

func (mislabelled) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "mislabelled"}
}
func (m mislabelled) Clone() credentials.TransportCredentials { return m }

func TestTokenNeverLeavesOnAConnectionWithoutSecurity(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		fake, addr := startSecServer(t, fakeOpts{})
		c := secClient(t, addr, stateward.WithTransportCredentials(mislabelled{insecure.NewCredentials()}), stateward.WithToken(secToken))
		_, err := c.Get(ctxT(t), secApp, "sid", 0)
		if err == nil || strings.Contains(err.Error(), secToken) {
			t.Fatalf("got %v, want a refusal to send the token (that does not show it)", err)
		}
		if n := len(fake.seen()); n != 0 {
			t.Fatalf("the server saw %d calls", n)
		}
	})
}

func TestNewClientRefusals(t *testing.T) {
	creds, err := credentials.NewClientTLSFromFile(certFile(t, "ca.pem"), "")
	noErr(t, err)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	cases := []struct {
		name  string
		opts  []stateward.Option
		words []string
	}{
		{"tls twice", []stateward.Option{stateward.WithTLS(caTLS(t)), stateward.WithTransportCredentials(creds)}, []string{"WithTLS", "WithTransportCredentials"}},
		{"ca twice", []stateward.Option{stateward.WithTLS(stateward.TLSOptions{CAFile: certFile(t, "ca.pem"), CAPEM: []byte("x")})}, []string{"CAFile", "CAPEM"}},
		{"missing ca file", []stateward.Option{stateward.WithTLS(stateward.TLSOptions{CAFile: missing})}, []string{"CAFile", "missing.pem"}},
		{"ca not pem", []stateward.Option{stateward.WithTLS(stateward.TLSOptions{CAPEM: []byte("not pem")})}, []string{"no PEM"}},
		{"cert without key", []stateward.Option{stateward.WithTLS(stateward.TLSOptions{CertFile: certFile(t, "client-"+clientCN+".pem")})}, []string{"key"}},
		{"key without cert", []stateward.Option{stateward.WithTLS(stateward.TLSOptions{KeyPEM: []byte("SECRET")})}, []string{"certificate"}},
		{"key of another cert", []stateward.Option{stateward.WithTLS(stateward.TLSOptions{
			CertFile: certFile(t, "client-"+clientCN+".pem"), KeyFile: certFile(t, "other-client.key")})}, []string{"client certificate and key"}},
		{"empty token", []stateward.Option{stateward.WithToken(""), stateward.WithInsecureToken()}, []string{"empty"}},
		{"unsendable token", []stateward.Option{stateward.WithToken("line\nbreak"), stateward.WithInsecureToken()}, []string{"printable"}},
		{"token twice", []stateward.Option{stateward.WithToken(secToken), stateward.WithInsecureToken(), stateward.WithMetadata("authorization", "Bearer x")}, []string{"WithMetadata"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := stateward.NewClient(stateward.Addresses("127.0.0.1:1"), tc.opts...)
			if err == nil {
				t.Fatal("NewClient succeeded")
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("%q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "line\nbreak") {
				t.Fatalf("%q shows a secret", err)
			}
		})
	}
}

func TestMutualTLSClientCertificate(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		fake, addr := startSecServer(t, fakeOpts{cert: "server", clientCA: "ca.pem"})
		cert, key := certFile(t, "client-"+clientCN+".pem"), certFile(t, "client-"+clientCN+".key")
		withFiles := caTLS(t)
		withFiles.CertFile, withFiles.KeyFile = cert, key
		_, err := secClient(t, addr, stateward.WithTLS(withFiles)).Get(ctxT(t), secApp, "sid", 0)
		noErr(t, err)
		inMemory := caTLS(t)
		inMemory.CertPEM, err = os.ReadFile(cert)
		noErr(t, err)
		inMemory.KeyPEM, err = os.ReadFile(key)
		noErr(t, err)
		_, err = secClient(t, addr, stateward.WithTLS(inMemory)).Get(ctxT(t), secApp, "sid", 0)
		noErr(t, err)
		if calls := fake.seen(); len(calls) != 2 || calls[0].clientCN != clientCN || calls[1].clientCN != clientCN {
			t.Fatalf("the server saw %+v, want two calls from %s", calls, clientCN)
		}
		// Without a certificate, or with one from another CA, the handshake fails.
		wantHandshakeFailure(t, secClient(t, addr, stateward.WithTLS(caTLS(t))))
		other := caTLS(t)
		other.CertFile, other.KeyFile = certFile(t, "other-client.pem"), certFile(t, "other-client.key")
		wantHandshakeFailure(t, secClient(t, addr, stateward.WithTLS(other)))
		if n := len(fake.seen()); n != 2 {
			t.Fatalf("the server saw %d calls, want 2", n)
		}
	})
}

func TestServerCertificateFromAnotherCAIsRefused(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		fake, addr := startSecServer(t, fakeOpts{cert: "server"})
		wantHandshakeFailure(t, secClient(t, addr, stateward.WithToken(secToken), stateward.WithTLS(stateward.TLSOptions{CAFile: certFile(t, "other-ca.pem")})))
		if n := len(fake.seen()); n != 0 {
			t.Fatalf("the server saw %d calls", n)
		}
	})
}

func TestExpiredServerCertificateIsRefused(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		fake, addr := startSecServer(t, fakeOpts{cert: "expired"})
		wantHandshakeFailure(t, secClient(t, addr, stateward.WithToken(secToken), stateward.WithTLS(caTLS(t))))
		if n := len(fake.seen()); n != 0 {
			t.Fatalf("the server saw %d calls", n)
		}
	})
}

func TestServerNameOverride(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		// The certificate names localhost, 127.0.0.1 and ::1: the override is what is checked.
		fake, addr := startSecServer(t, fakeOpts{cert: "server"})
		wrong := caTLS(t)
		wrong.ServerName = "wrong.example"
		wantHandshakeFailure(t, secClient(t, addr, stateward.WithTLS(wrong)))
		right := caTLS(t)
		right.ServerName = "localhost"
		_, err := secClient(t, addr, stateward.WithTLS(right)).Get(ctxT(t), secApp, "sid", 0)
		noErr(t, err)
		if n := len(fake.seen()); n != 1 {
			t.Fatalf("the server saw %d calls, want 1", n)
		}
	})
}

func TestAuthRefusalsAreTypedErrors(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		tokens := map[string]principal{
			"writer-token": {"shop-web", []string{secApp}, "read-write"},
			"reader-token": {"reports", []string{secApp}, "read-only"},
		}
		_, addr := startSecServer(t, fakeOpts{cert: "server", tokens: tokens})
		cases := []struct {
			token    string
			call     string
			code     codes.Code
			reason   statewardv1.ErrorReason
			metadata map[string]string
		}{
			{"", "get", codes.Unauthenticated, statewardv1.ErrorReason_MISSING_CREDENTIAL, nil},
			{"not-a-principal", "get", codes.Unauthenticated, statewardv1.ErrorReason_UNKNOWN_CREDENTIAL, nil},
			{"writer-token", "get-other-app", codes.PermissionDenied, statewardv1.ErrorReason_APP_NOT_ALLOWED, map[string]string{"principal": "shop-web", "app": "elsewhere"}},
			{"reader-token", "set", codes.PermissionDenied, statewardv1.ErrorReason_READ_ONLY_PRINCIPAL,
				map[string]string{"principal": "reports", "app": secApp, "access": "read-only", "required": "read-write"}},
		}
		for _, tc := range cases {
			t.Run(tc.reason.String(), func(t *testing.T) {
				opts := []stateward.Option{stateward.WithTLS(caTLS(t))}
				if tc.token != "" {
					opts = append(opts, stateward.WithToken(tc.token))
				}
				c := secClient(t, addr, opts...)
				var err error
				switch tc.call {
				case "get":
					_, err = c.Get(ctxT(t), secApp, "sid", 0)
				case "get-other-app":
					_, err = c.Get(ctxT(t), "elsewhere", "sid", 0)
				default:
					_, err = c.Set(ctxT(t), secApp, "sid", []byte("x"), stateward.SetOptions{})
				}
				wantStatus(t, err, tc.code, tc.reason.String())
				if e := asError(t, err); !maps.Equal(e.Metadata, tc.metadata) {
					t.Fatalf("metadata %v, want %v", e.Metadata, tc.metadata)
				}
				if tc.token != "" && strings.Contains(err.Error(), tc.token) {
					t.Fatalf("%q shows the token", err)
				}
				// What the principal may do still works.
				if _, ok := tokens[tc.token]; ok {
					_, err = c.Get(ctxT(t), secApp, "sid", 0)
					noErr(t, err)
				}
			})
		}
	})
}
