"""Partition routing: rendezvous (highest-random-weight) hashing of (app, session_id) over endpoints.

This module implements ``proto/PARTITIONING.md`` byte for byte; the shared vectors in
``proto/partitioning-vectors.json`` pin it to the TypeScript and Go clients. In short:

* an endpoint's identity is its ``node_id`` if set, else its address exactly as configured;
* ``seed(endpoint) = murmur3_x86_32(utf8(identity), 0)``;
* ``key = utf8(app) + b"\\x00" + utf8(session_id)``;
* ``score(endpoint, key) = murmur3_x86_32(key, seed(endpoint))``;
* the endpoint with the highest score owns the session; equal scores go to the endpoint whose
  UTF-8 identity is smaller byte-wise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence, Union

__all__ = [
    "Endpoint",
    "PartitionError",
    "Partitioner",
    "murmur3_32",
    "node_seed",
    "routing_key",
]

_MASK = 0xFFFFFFFF
_C1 = 0xCC9E2D51
_C2 = 0x1B873593


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK


def _fmix(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    h ^= h >> 16
    return h


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3_x86_32 (Austin Appleby's reference) of ``data``: an unsigned 32-bit integer."""
    h = seed & _MASK
    length = len(data)
    end = length - (length % 4)
    for i in range(0, end, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * _C1) & _MASK
        k = _rotl(k, 15)
        k = (k * _C2) & _MASK
        h ^= k
        h = _rotl(h, 13)
        h = (h * 5 + 0xE6546B64) & _MASK
    rest = length - end
    if rest:
        k = 0
        if rest == 3:
            k ^= data[end + 2] << 16
        if rest >= 2:
            k ^= data[end + 1] << 8
        k ^= data[end]
        k = (k * _C1) & _MASK
        k = _rotl(k, 15)
        k = (k * _C2) & _MASK
        h ^= k
    h ^= length & _MASK
    return _fmix(h)


def routing_key(app: str, session_id: str) -> bytes:
    """The bytes hashed for a session: UTF-8 ``app``, one zero byte, UTF-8 ``session_id``."""
    return app.encode("utf-8") + b"\x00" + session_id.encode("utf-8")


def node_seed(identity: str) -> int:
    """The hash seed of an endpoint: MurmurHash3_x86_32 of its UTF-8 identity with seed 0."""
    return murmur3_32(identity.encode("utf-8"), 0)


class PartitionError(ValueError):
    """An endpoint list that cannot be partitioned (empty, duplicate or empty identities)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        #: Stable reason, as in the shared vectors: ``no-endpoints``, ``empty-identity``,
        #: ``duplicate-identity`` or ``seed-collision``.
        self.reason = reason


@dataclass(frozen=True)
class Endpoint:
    """A Stateward node: a gRPC target address and an optional stable node id.

    The node id, when given, is the endpoint's identity for routing, so that an address can change
    without moving sessions. Otherwise the address string, exactly as configured, is the identity:
    configure every client of a farm with the same strings.
    """

    address: str
    node_id: str | None = None

    @property
    def identity(self) -> str:
        """The routing identity: ``node_id`` if set and non-empty, else ``address``."""
        return self.node_id if self.node_id else self.address


EndpointLike = Union[str, Endpoint]


def as_endpoint(value: EndpointLike) -> Endpoint:
    """Accepts an address string or an :class:`Endpoint`."""
    if isinstance(value, Endpoint):
        return value
    if isinstance(value, str):
        return Endpoint(address=value)
    raise TypeError(f"an endpoint is an address string or an Endpoint, not {type(value).__name__}")


class Partitioner:
    """Routes (app, session_id) to one of a fixed list of endpoints by rendezvous hashing.

    Adding or removing an endpoint moves only the sessions that the new endpoint wins or that the
    removed one owned; the order of the list does not matter.
    """

    def __init__(self, endpoints: Iterable[EndpointLike]) -> None:
        eps = [as_endpoint(e) for e in endpoints]
        if not eps:
            raise PartitionError("no-endpoints", "at least one endpoint is required")
        seen: dict[str, int] = {}
        seeds: dict[int, str] = {}
        for ep in eps:
            identity = ep.identity
            if identity == "":
                raise PartitionError("empty-identity", "an endpoint has neither an address nor a node id")
            if identity in seen:
                raise PartitionError("duplicate-identity", f"two endpoints have the identity {identity!r}")
            seen[identity] = 1
            seed = node_seed(identity)
            if seed in seeds:
                raise PartitionError(
                    "seed-collision",
                    f"endpoints {seeds[seed]!r} and {identity!r} hash to the same seed; give one a node_id",
                )
            seeds[seed] = identity
        self._endpoints: tuple[Endpoint, ...] = tuple(eps)
        self._seeds: tuple[int, ...] = tuple(node_seed(e.identity) for e in eps)
        self._ids: tuple[bytes, ...] = tuple(e.identity.encode("utf-8") for e in eps)

    @property
    def endpoints(self) -> Sequence[Endpoint]:
        """The endpoints, in the order given."""
        return self._endpoints

    def scores(self, app: str, session_id: str) -> list[int]:
        """Each endpoint's score for the session, in endpoint order (for diagnostics and tests)."""
        key = routing_key(app, session_id)
        return [murmur3_32(key, seed) for seed in self._seeds]

    def index_for(self, app: str, session_id: str) -> int:
        """Index (into :attr:`endpoints`) of the endpoint that owns the session."""
        key = routing_key(app, session_id)
        best = 0
        best_score = -1
        for i, seed in enumerate(self._seeds):
            score = murmur3_32(key, seed)
            if score > best_score or (score == best_score and self._ids[i] < self._ids[best]):
                best, best_score = i, score
        return best

    def endpoint_for(self, app: str, session_id: str) -> Endpoint:
        """The endpoint that owns the session."""
        return self._endpoints[self.index_for(app, session_id)]
