package stateward_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stateward/stateward/client/go/stateward"
)

type vectorEndpoint struct {
	Address string  `json:"address"`
	NodeID  *string `json:"node_id"`
}

type vectors struct {
	Murmur3 []struct {
		InputHex string `json:"input_hex"`
		Seed     uint32 `json:"seed"`
		Hash     uint32 `json:"hash"`
	} `json:"murmur3_x86_32"`
	NodeSeeds []struct {
		Identity string `json:"identity"`
		Seed     uint32 `json:"seed"`
	} `json:"node_seeds"`
	RoutingKeys []struct {
		App       string `json:"app"`
		SessionID string `json:"session_id"`
		KeyHex    string `json:"key_hex"`
	} `json:"routing_keys"`
	EndpointSets map[string][]vectorEndpoint `json:"endpoint_sets"`
	Cases        []struct {
		EndpointSet   string   `json:"endpoint_set"`
		App           string   `json:"app"`
		SessionID     string   `json:"session_id"`
		Scores        []uint32 `json:"scores"`
		OwnerIndex    int      `json:"owner_index"`
		OwnerIdentity string   `json:"owner_identity"`
	} `json:"cases"`
	MembershipChanges []struct {
		Before  string   `json:"before"`
		After   string   `json:"after"`
		Note    string   `json:"note"`
		Added   []string `json:"added"`
		Removed []string `json:"removed"`
		Moved   int      `json:"moved"`
	} `json:"membership_changes"`
	Invalid []struct {
		Name      string           `json:"name"`
		Endpoints []vectorEndpoint `json:"endpoints"`
		Error     string           `json:"error"`
	} `json:"invalid_endpoint_sets"`
}

func loadVectors(t *testing.T) *vectors {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "proto", "partitioning-vectors.json"))
	if err != nil {
		t.Fatalf("reading the shared vectors: %v", err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("parsing the shared vectors: %v", err)
	}
	return &v
}

func toEndpoints(in []vectorEndpoint) []stateward.Endpoint {
	out := make([]stateward.Endpoint, len(in))
	for i, e := range in {
		out[i].Address = e.Address
		if e.NodeID != nil {
			out[i].NodeID = *e.NodeID
		}
	}
	return out
}

func TestMurmur3Vectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Murmur3) < 10 {
		t.Fatalf("only %d hash vectors", len(v.Murmur3))
	}
	for _, c := range v.Murmur3 {
		in, err := hex.DecodeString(c.InputHex)
		if err != nil {
			t.Fatal(err)
		}
		if got := stateward.Murmur3(in, c.Seed); got != c.Hash {
			t.Errorf("Murmur3(%s, %d) = %d, want %d", c.InputHex, c.Seed, got, c.Hash)
		}
	}
}

func TestNodeSeedsAndRoutingKeys(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.NodeSeeds {
		if got := stateward.NodeSeed(c.Identity); got != c.Seed {
			t.Errorf("NodeSeed(%q) = %d, want %d", c.Identity, got, c.Seed)
		}
	}
	for _, c := range v.RoutingKeys {
		if got := hex.EncodeToString(stateward.RoutingKey(c.App, c.SessionID)); got != c.KeyHex {
			t.Errorf("RoutingKey(%q, ...) = %s, want %s", c.App, got, c.KeyHex)
		}
	}
}

func TestPartitionVectors(t *testing.T) {
	v := loadVectors(t)
	parts := map[string]*stateward.Partitioner{}
	for name, eps := range v.EndpointSets {
		p, err := stateward.NewPartitioner(toEndpoints(eps))
		if err != nil {
			t.Fatalf("endpoint set %s: %v", name, err)
		}
		parts[name] = p
	}
	if len(v.Cases) < 1000 {
		t.Fatalf("only %d cases", len(v.Cases))
	}
	for i, c := range v.Cases {
		p := parts[c.EndpointSet]
		if got := p.Scores(c.App, c.SessionID); !slices.Equal(got, c.Scores) {
			t.Errorf("case %d (%s): scores %v, want %v", i, c.EndpointSet, got, c.Scores)
		}
		idx := p.Index(c.App, c.SessionID)
		if idx != c.OwnerIndex || p.Endpoints()[idx].Identity() != c.OwnerIdentity {
			t.Errorf("case %d (%s): owner %d, want %d (%s)", i, c.EndpointSet, idx, c.OwnerIndex, c.OwnerIdentity)
		}
	}
}

func TestMembershipChangesMoveOnlyTheChangedShare(t *testing.T) {
	v := loadVectors(t)
	owners := map[string]map[[2]string]string{}
	for _, c := range v.Cases {
		if owners[c.EndpointSet] == nil {
			owners[c.EndpointSet] = map[[2]string]string{}
		}
		owners[c.EndpointSet][[2]string{c.App, c.SessionID}] = c.OwnerIdentity
	}
	for _, ch := range v.MembershipChanges {
		before, after := owners[ch.Before], owners[ch.After]
		moved := 0
		for k, b := range before {
			a := after[k]
			if a == b {
				continue
			}
			moved++
			if !slices.Contains(ch.Added, a) && !slices.Contains(ch.Removed, b) {
				t.Errorf("%s: a key moved from %s to %s", ch.Note, b, a)
			}
		}
		if moved != ch.Moved {
			t.Errorf("%s: %d keys moved, want %d", ch.Note, moved, ch.Moved)
		}
		if (len(ch.Added) > 0 || len(ch.Removed) > 0) && moved == 0 {
			t.Errorf("%s: nothing moved", ch.Note)
		}
	}
}

func TestInvalidEndpointSets(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Invalid {
		_, err := stateward.NewPartitioner(toEndpoints(c.Endpoints))
		var pe *stateward.PartitionError
		if !errors.As(err, &pe) || pe.Reason != c.Error {
			t.Errorf("%s: got %v, want reason %s", c.Name, err, c.Error)
		}
	}
	if _, err := stateward.NewClient(nil); err == nil {
		t.Error("NewClient with no endpoints succeeded")
	}
}

func TestBalanceAndOrderIndependence(t *testing.T) {
	addrs := []string{"10.0.0.1:42424", "10.0.0.2:42424", "10.0.0.3:42424", "10.0.0.4:42424"}
	p, _ := stateward.NewPartitioner(stateward.Addresses(addrs...))
	rev := slices.Clone(addrs)
	slices.Reverse(rev)
	q, _ := stateward.NewPartitioner(stateward.Addresses(rev...))
	rng := rand.New(rand.NewSource(42))
	const alphabet = "abcdefghijklmnopqrstuvwxyz012345"
	counts := map[string]int{}
	for i := 0; i < 20000; i++ {
		id := make([]byte, 24)
		for j := range id {
			id[j] = alphabet[rng.Intn(len(alphabet))]
		}
		owner := p.Endpoint("app", string(id))
		if q.Endpoint("app", string(id)) != owner {
			t.Fatal("the endpoint order changed the owner")
		}
		counts[owner.Address]++
	}
	for a, n := range counts {
		if n < 4500 || n > 5500 {
			t.Errorf("%s owns %d of 20000", a, n)
		}
	}
}

func BenchmarkPartitionIndex(b *testing.B) {
	eps := make([]string, 8)
	for i := range eps {
		eps[i] = fmt.Sprintf("stateward-%d:42424", i)
	}
	p, _ := stateward.NewPartitioner(stateward.Addresses(eps...))
	for i := 0; i < b.N; i++ {
		p.Index("app", "abcdefghijklmnopqrstuvwx")
	}
}
