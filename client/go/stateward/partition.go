package stateward

import (
	"bytes"
	"fmt"
)

// Endpoint is a Stateward node: a gRPC target address and an optional stable node id.
//
// The node id, when set, is the endpoint's identity for partitioning, so an address can change
// without moving sessions. Otherwise the address string, exactly as configured, is the identity:
// configure every client of a farm with the same strings.
type Endpoint struct {
	// Address is the gRPC target, e.g. "10.0.0.1:42424".
	Address string
	// NodeID optionally names the node for routing; empty means "use Address".
	NodeID string
}

// Identity is the endpoint's routing identity: NodeID if non-empty, else Address.
func (e Endpoint) Identity() string {
	if e.NodeID != "" {
		return e.NodeID
	}
	return e.Address
}

// PartitionError reports an endpoint list that cannot be partitioned.
type PartitionError struct {
	// Reason is stable, as in proto/partitioning-vectors.json: "no-endpoints", "empty-identity",
	// "duplicate-identity" or "seed-collision".
	Reason string
	// Message says which endpoints are at fault.
	Message string
}

func (e *PartitionError) Error() string { return "stateward: " + e.Message }

// Murmur3 returns MurmurHash3_x86_32 (Austin Appleby's reference) of data with the given seed.
func Murmur3(data []byte, seed uint32) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h := seed
	n := len(data)
	end := n - n%4
	for i := 0; i < end; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= c1
		k = k<<15 | k>>17
		k *= c2
		h ^= k
		h = h<<13 | h>>19
		h = h*5 + 0xe6546b64
	}
	if rest := n - end; rest > 0 {
		var k uint32
		if rest == 3 {
			k ^= uint32(data[end+2]) << 16
		}
		if rest >= 2 {
			k ^= uint32(data[end+1]) << 8
		}
		k ^= uint32(data[end])
		k *= c1
		k = k<<15 | k>>17
		k *= c2
		h ^= k
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// RoutingKey is the byte string hashed for a session: app, one zero byte, session id (UTF-8).
func RoutingKey(app, sessionID string) []byte {
	key := make([]byte, 0, len(app)+1+len(sessionID))
	key = append(key, app...)
	key = append(key, 0)
	return append(key, sessionID...)
}

// NodeSeed is an endpoint's hash seed: Murmur3 of its UTF-8 identity with seed 0.
func NodeSeed(identity string) uint32 { return Murmur3([]byte(identity), 0) }

// Partitioner routes (app, session id) to one of a fixed list of endpoints by rendezvous
// (highest-random-weight) hashing as specified in proto/PARTITIONING.md, identically to the
// Python and TypeScript clients. Adding or removing an endpoint moves only the sessions that
// the new endpoint wins or that the removed one owned; the list's order does not matter.
// A Partitioner is immutable and safe for concurrent use.
type Partitioner struct {
	endpoints []Endpoint
	seeds     []uint32
	ids       [][]byte
}

// NewPartitioner validates the endpoints: at least one, each with a non-empty identity, no two
// with the same identity or the same seed.
func NewPartitioner(endpoints []Endpoint) (*Partitioner, error) {
	if len(endpoints) == 0 {
		return nil, &PartitionError{"no-endpoints", "at least one endpoint is required"}
	}
	p := &Partitioner{endpoints: append([]Endpoint(nil), endpoints...)}
	identities := make(map[string]bool, len(endpoints))
	seeds := make(map[uint32]string, len(endpoints))
	for _, ep := range endpoints {
		id := ep.Identity()
		if id == "" {
			return nil, &PartitionError{"empty-identity", "an endpoint has neither an address nor a node id"}
		}
		if identities[id] {
			return nil, &PartitionError{"duplicate-identity", fmt.Sprintf("two endpoints have the identity %q", id)}
		}
		identities[id] = true
		seed := NodeSeed(id)
		if other, ok := seeds[seed]; ok {
			return nil, &PartitionError{"seed-collision", fmt.Sprintf("endpoints %q and %q hash to the same seed; give one a NodeID", other, id)}
		}
		seeds[seed] = id
		p.seeds = append(p.seeds, seed)
		p.ids = append(p.ids, []byte(id))
	}
	return p, nil
}

// Endpoints returns a copy of the endpoints, in the order given.
func (p *Partitioner) Endpoints() []Endpoint { return append([]Endpoint(nil), p.endpoints...) }

// Scores returns each endpoint's score for the session, in endpoint order (for diagnostics).
func (p *Partitioner) Scores(app, sessionID string) []uint32 {
	key := RoutingKey(app, sessionID)
	scores := make([]uint32, len(p.seeds))
	for i, seed := range p.seeds {
		scores[i] = Murmur3(key, seed)
	}
	return scores
}

// Index returns the index (into Endpoints) of the endpoint that owns the session.
func (p *Partitioner) Index(app, sessionID string) int {
	key := RoutingKey(app, sessionID)
	best, bestScore := 0, Murmur3(key, p.seeds[0])
	for i := 1; i < len(p.seeds); i++ {
		score := Murmur3(key, p.seeds[i])
		if score > bestScore || (score == bestScore && bytes.Compare(p.ids[i], p.ids[best]) < 0) {
			best, bestScore = i, score
		}
	}
	return best
}

// Endpoint returns the endpoint that owns the session.
func (p *Partitioner) Endpoint(app, sessionID string) Endpoint {
	return p.endpoints[p.Index(app, sessionID)]
}
