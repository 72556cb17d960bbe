"""Writes proto/partitioning-vectors.json from the Python reference implementation.

Run from the repository root with the package importable (make partitioning-vectors). The output is
deterministic; the Go and TypeScript implementations are checked against the committed file, so a
change here is a change of the routing spec (proto/PARTITIONING.md) and moves sessions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stateward_client.partitioning import Endpoint, PartitionError, Partitioner, murmur3_32, node_seed, routing_key

ID_CHARS = "abcdefghijklmnopqrstuvwxyz012345"  # ASP.NET's session id alphabet


class Lcg:
    """A tiny deterministic generator, so the file never depends on Python's random module."""

    def __init__(self, seed: int) -> None:
        self.state = seed

    def next(self) -> int:
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % 2**64
        return self.state >> 33


def session_id(rng: Lcg, length: int, alphabet: str = ID_CHARS) -> str:
    return "".join(alphabet[rng.next() % len(alphabet)] for _ in range(length))


VISIBLE = "".join(chr(c) for c in range(0x21, 0x7F))

ENDPOINT_SETS: dict[str, list[Endpoint]] = {
    "one": [Endpoint("127.0.0.1:42424")],
    "three": [Endpoint("10.0.0.1:42424"), Endpoint("10.0.0.2:42424"), Endpoint("10.0.0.3:42424")],
    "three-reordered": [Endpoint("10.0.0.3:42424"), Endpoint("10.0.0.1:42424"), Endpoint("10.0.0.2:42424")],
    "four": [
        Endpoint("10.0.0.1:42424"),
        Endpoint("10.0.0.2:42424"),
        Endpoint("10.0.0.3:42424"),
        Endpoint("10.0.0.4:42424"),
    ],
    "three-minus-2": [Endpoint("10.0.0.1:42424"), Endpoint("10.0.0.3:42424")],
    "three-node-ids": [
        Endpoint("10.0.0.1:42424", "alpha"),
        Endpoint("10.0.0.2:42424", "beta"),
        Endpoint("10.0.0.3:42424", "gamma"),
    ],
    "three-node-ids-moved": [
        Endpoint("10.9.0.7:5000", "alpha"),
        Endpoint("stateward-b.internal:42424", "beta"),
        Endpoint("[::1]:42424", "gamma"),
    ],
    "five-hostnames": [Endpoint(f"stateward-{i}.stateward.svc.cluster.local:42424") for i in range(5)],
    "six-hostnames": [Endpoint(f"stateward-{i}.stateward.svc.cluster.local:42424") for i in range(6)],
    "mixed-identities": [
        Endpoint("localhost:42424"),
        Endpoint("127.0.0.1:42424"),
        Endpoint("unix:///run/stateward.sock", ""),
        Endpoint("10.0.0.9:42424", "n\u0153ud-\u00e9t\u00e9"),
    ],
}

# Sets whose differences are single-node changes, with every key routed under both.
MEMBERSHIP_CHANGES = [
    ("three", "four", "add 10.0.0.4:42424"),
    ("three", "three-minus-2", "remove 10.0.0.2:42424"),
    ("five-hostnames", "six-hostnames", "add stateward-5"),
    ("three", "three-reordered", "same endpoints, another order: nothing moves"),
    ("three-node-ids", "three-node-ids-moved", "same node ids at new addresses: nothing moves"),
]

INVALID_SETS = [
    ("empty list", [], "no-endpoints"),
    ("same address twice", [Endpoint("10.0.0.1:42424"), Endpoint("10.0.0.1:42424")], "duplicate-identity"),
    (
        "node id equal to another endpoint's address",
        [Endpoint("10.0.0.1:42424"), Endpoint("10.0.0.2:42424", "10.0.0.1:42424")],
        "duplicate-identity",
    ),
    ("empty address and no node id", [Endpoint("")], "empty-identity"),
    (
        "two node ids with the same seed (found by search)",
        [Endpoint("10.0.0.1:42424", "node-53119"), Endpoint("10.0.0.2:42424", "node-70603")],
        "seed-collision",
    ),
]


def keys() -> list[tuple[str, str]]:
    rng = Lcg(20261124)
    out: list[tuple[str, str]] = []
    apps = ["", "app", "/LM/W3SVC/1/ROOT/shop", "a", (VISIBLE * 2)[:128]]
    lengths = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 24, 24, 32, 64, 88, 255, 256]
    for app in apps:
        for n in lengths:
            out.append((app, session_id(rng, n)))
    for i in range(40):
        out.append(("app", session_id(rng, 24)))
    out.append(("app", VISIBLE))
    out.append(("app", "~"))
    out.append(("", "!"))
    # The separator matters: ("ab", "c") and ("a", "bc") are different sessions.
    out.extend([("ab", "c"), ("a", "bc")])
    return out


def main(out_path: str) -> None:
    hash_vectors = []
    for text, seed in [
        ("", 0),
        ("", 1),
        ("", 0xFFFFFFFF),
        ("\x00\x00\x00\x00", 0),
        ("a", 0x9747B28C),
        ("ab", 0x9747B28C),
        ("abc", 0x9747B28C),
        ("abcd", 0x9747B28C),
        ("aaaa", 0x9747B28C),
        ("Hello, world!", 0x9747B28C),
        ("The quick brown fox jumps over the lazy dog", 0x9747B28C),
        ("\u03c0", 0x9747B28C),
    ]:
        data = text.encode("utf-8")
        hash_vectors.append({"input_hex": data.hex(), "seed": seed, "hash": murmur3_32(data, seed)})
    rng = Lcg(7)
    for n in range(0, 9):
        data = bytes(rng.next() & 0xFF for _ in range(n))
        seed = rng.next() & 0xFFFFFFFF
        hash_vectors.append({"input_hex": data.hex(), "seed": seed, "hash": murmur3_32(data, seed)})

    identities = sorted({e.identity for eps in ENDPOINT_SETS.values() for e in eps}, key=lambda s: s.encode())
    seed_vectors = [{"identity": i, "seed": node_seed(i)} for i in identities]

    key_vectors = [
        {"app": a, "session_id": s, "key_hex": routing_key(a, s).hex()}
        for a, s in [("", "x"), ("app", "abc"), ("ab", "c"), ("a", "bc")]
    ]

    cases = []
    all_keys = keys()
    for name, eps in ENDPOINT_SETS.items():
        p = Partitioner(eps)
        for app, sid in all_keys:
            idx = p.index_for(app, sid)
            cases.append(
                {
                    "endpoint_set": name,
                    "app": app,
                    "session_id": sid,
                    "scores": p.scores(app, sid),
                    "owner_index": idx,
                    "owner_identity": eps[idx].identity,
                }
            )

    endpoint_sets = dict(ENDPOINT_SETS)

    changes = []
    for before, after, note in MEMBERSHIP_CHANGES:
        pb, pa = Partitioner(ENDPOINT_SETS[before]), Partitioner(ENDPOINT_SETS[after])
        moved = sum(
            1 for a, s in all_keys if pb.endpoint_for(a, s).identity != pa.endpoint_for(a, s).identity
        )
        b_ids = {e.identity for e in ENDPOINT_SETS[before]}
        a_ids = {e.identity for e in ENDPOINT_SETS[after]}
        changes.append(
            {
                "before": before,
                "after": after,
                "note": note,
                "added": sorted(a_ids - b_ids),
                "removed": sorted(b_ids - a_ids),
                "moved": moved,
                "keys": len(all_keys),
            }
        )

    invalid = []
    for name, eps, reason in INVALID_SETS:
        try:
            Partitioner(eps)
        except PartitionError as e:
            assert e.reason == reason, (name, e.reason)
        else:
            raise AssertionError(name)
        invalid.append(
            {"name": name, "endpoints": [_ep_json(e) for e in eps], "error": reason}
        )

    doc = {
        "spec": "proto/PARTITIONING.md",
        "version": 1,
        "comment": "Generated by client/python/tools/gen_partitioning_vectors.py. Unsigned 32-bit integers are JSON numbers. "
        "A node_id of null or \"\" means the identity is the address.",
        "murmur3_x86_32": hash_vectors,
        "node_seeds": seed_vectors,
        "routing_keys": key_vectors,
        "endpoint_sets": {n: [_ep_json(e) for e in eps] for n, eps in endpoint_sets.items()},
        "cases": cases,
        "membership_changes": changes,
        "invalid_endpoint_sets": invalid,
    }
    Path(out_path).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _ep_json(e: Endpoint) -> dict:
    return {"address": e.address, "node_id": e.node_id}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "proto/partitioning-vectors.json")
