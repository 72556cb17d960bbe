package stateward_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/stateward/stateward/client/go/stateward"
)

func randomToken(t *testing.T) string {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	noErr(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// The real server with an auth file (loopback, plaintext: WithInsecureToken): its refusals are the
// same typed errors on both transports, whether it refuses an operation or a whole Pipeline stream.
func TestRealServerAuthOnBothTransports(t *testing.T) {
	readWrite, readOnly := randomToken(t), randomToken(t)
	entry := func(name, token, access string) map[string]any {
		sum := sha256.Sum256([]byte(token))
		return map[string]any{"name": name, "token_sha256": hex.EncodeToString(sum[:]), "apps": []string{"shop"}, "access": access}
	}
	file := filepath.Join(t.TempDir(), "auth.json")
	doc, err := json.Marshal(map[string]any{"principals": []any{entry("shop-web", readWrite, "read-write"), entry("reports", readOnly, "read-only")}})
	noErr(t, err)
	noErr(t, os.WriteFile(file, doc, 0o600))
	server, err := startServer("--auth-file", file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.stop)
	bothTransports(t, func(t *testing.T) {
		ctx, sid := ctxT(t), newSID()
		client := func(opts ...stateward.Option) *stateward.Client {
			return specClient(t, server.addr, append(opts, stateward.WithInsecureToken(), stateward.WithTimeout(5e9))...)
		}
		rw := client(stateward.WithToken(readWrite))
		_, err := rw.Set(ctx, "shop", sid, []byte("cart"), stateward.SetOptions{})
		noErr(t, err)
		r, err := rw.Get(ctx, "shop", sid, 0)
		noErr(t, err)
		if string(r.Data) != "cart" {
			t.Fatalf("read %q", r.Data)
		}
		_, err = rw.Get(ctx, "blog", sid, 0)
		wantStatus(t, err, codes.PermissionDenied, "APP_NOT_ALLOWED")
		if e := asError(t, err); !maps.Equal(e.Metadata, map[string]string{"principal": "shop-web", "app": "blog"}) {
			t.Errorf("metadata %v", e.Metadata)
		}
		ro := client(stateward.WithToken(readOnly))
		_, err = ro.Set(ctx, "shop", sid, []byte("x"), stateward.SetOptions{})
		wantStatus(t, err, codes.PermissionDenied, "READ_ONLY_PRINCIPAL")
		if _, err := ro.Get(ctx, "shop", sid, 0); err != nil {
			t.Fatalf("the read-only principal's read: %v", err)
		}
		anonymous := client()
		for range 2 { // the second on a new stream, refused alike
			_, err = anonymous.Get(ctx, "shop", sid, 0)
			wantStatus(t, err, codes.Unauthenticated, "MISSING_CREDENTIAL")
		}
		_, err = client(stateward.WithToken(randomToken(t))).Set(ctx, "shop", sid, []byte("x"), stateward.SetOptions{})
		wantStatus(t, err, codes.Unauthenticated, "UNKNOWN_CREDENTIAL")
	})
}
