"""The shared partitioning vectors (proto/partitioning-vectors.json) and the routing properties."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from stateward_client import Endpoint, PartitionError, Partitioner, SessionClient
from stateward_client.partitioning import murmur3_32, node_seed, routing_key

from stateward_server import repo_root

VECTORS = json.loads((repo_root() / "proto" / "partitioning-vectors.json").read_text(encoding="utf-8"))


def endpoints(name: str) -> list[Endpoint]:
    return [Endpoint(e["address"], e["node_id"]) for e in VECTORS["endpoint_sets"][name]]


def test_murmur3_vectors() -> None:
    assert len(VECTORS["murmur3_x86_32"]) >= 10
    for v in VECTORS["murmur3_x86_32"]:
        assert murmur3_32(bytes.fromhex(v["input_hex"]), v["seed"]) == v["hash"], v


def test_node_seeds() -> None:
    for v in VECTORS["node_seeds"]:
        assert node_seed(v["identity"]) == v["seed"], v


def test_routing_keys() -> None:
    for v in VECTORS["routing_keys"]:
        assert routing_key(v["app"], v["session_id"]).hex() == v["key_hex"]


def test_cases() -> None:
    partitioners = {name: Partitioner(endpoints(name)) for name in VECTORS["endpoint_sets"]}
    assert len(VECTORS["cases"]) > 1000
    for case in VECTORS["cases"]:
        p = partitioners[case["endpoint_set"]]
        assert p.scores(case["app"], case["session_id"]) == case["scores"], case["endpoint_set"]
        idx = p.index_for(case["app"], case["session_id"])
        assert idx == case["owner_index"], case["endpoint_set"]
        assert p.endpoints[idx].identity == case["owner_identity"]


def test_membership_changes_move_only_the_changed_nodes_share() -> None:
    by_set: dict[str, dict[tuple[str, str], str]] = {}
    for case in VECTORS["cases"]:
        by_set.setdefault(case["endpoint_set"], {})[(case["app"], case["session_id"])] = case["owner_identity"]
    for change in VECTORS["membership_changes"]:
        before, after = by_set[change["before"]], by_set[change["after"]]
        moved = [k for k in before if before[k] != after[k]]
        assert len(moved) == change["moved"]
        for k in moved:
            # A key moves only onto an added node or off a removed one.
            assert after[k] in change["added"] or before[k] in change["removed"], change["note"]
        if change["added"] or change["removed"]:
            assert moved, change["note"]


def test_invalid_endpoint_sets() -> None:
    for case in VECTORS["invalid_endpoint_sets"]:
        with pytest.raises(PartitionError) as info:
            Partitioner([Endpoint(e["address"], e["node_id"]) for e in case["endpoints"]])
        assert info.value.reason == case["error"], case["name"]


def test_client_rejects_empty_endpoint_list() -> None:
    with pytest.raises(PartitionError):
        SessionClient(endpoints=[])


def test_balance_and_order_independence() -> None:
    rng = random.Random(42)
    eps = [f"10.0.0.{i}:42424" for i in range(1, 5)]
    p, q = Partitioner(eps), Partitioner(list(reversed(eps)))
    counts: Counter[str] = Counter()
    for _ in range(20000):
        sid = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz012345") for _ in range(24))
        owner = p.endpoint_for("app", sid)
        assert q.endpoint_for("app", sid) == owner
        counts[owner.address] += 1
    for n in counts.values():
        assert 4500 < n < 5500, counts


def test_vectors_file_is_what_the_generator_writes(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "vectors.json"
    tool = repo_root() / "client" / "python" / "tools" / "gen_partitioning_vectors.py"
    subprocess.run([sys.executable, str(tool), str(out)], check=True, timeout=60)
    committed = (repo_root() / "proto" / "partitioning-vectors.json").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == committed, "run `make partitioning-vectors` (and mind: it moves sessions)"
