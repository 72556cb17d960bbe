"""Result types of :class:`stateward_client.SessionClient`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "ExpireResult",
    "GetResult",
    "LockResult",
    "Outcome",
    "ReleaseResult",
    "RemoveResult",
    "SetResult",
]


class Outcome(str, enum.Enum):
    """Outcome of a Get or Lock. A missing session is an outcome, never an error."""

    #: Get: data returned. Lock: lock acquired (``lock_id`` is yours) and data returned.
    OK = "ok"
    #: No such session: it never existed, expired or was removed.
    NOT_FOUND = "not-found"
    #: A writer holds the lock: ``lock_id`` and ``lock_age_ms`` describe the holder; no data.
    LOCKED = "locked"


@dataclass(frozen=True)
class GetResult:
    """The reader's view of a session (``SessionClient.get``)."""

    outcome: Outcome
    #: The session's data (``Outcome.OK`` only, else ``b""``).
    data: bytes = field(default=b"", repr=False)
    #: 1 on creation, +1 on every write (``Outcome.OK`` only).
    version: int = 0
    #: ``Outcome.LOCKED``: the holder's lock id.
    lock_id: int = 0
    #: ``Outcome.LOCKED``: milliseconds since the holder took the lock.
    lock_age_ms: int = 0
    #: The sliding-expiry window in seconds (``OK`` and ``LOCKED``).
    ttl_seconds: int = 0


@dataclass(frozen=True)
class LockResult:
    """The writer's view of a session (``SessionClient.lock``)."""

    outcome: Outcome
    #: The session's data (``Outcome.OK`` only).
    data: bytes = field(default=b"", repr=False)
    #: The session's version (``Outcome.OK`` only).
    version: int = 0
    #: ``OK``: your lock id, a fencing token. ``LOCKED``: the holder's.
    lock_id: int = 0
    #: 0 for ``OK``; the holder's lock age for ``LOCKED``.
    lock_age_ms: int = 0
    #: The sliding-expiry window in seconds (``OK`` and ``LOCKED``).
    ttl_seconds: int = 0
    #: True when this call created the session (``create=True``).
    created: bool = False
    #: ``OK``: milliseconds until the lease ends and the server releases the lock by itself.
    lease_ms: int = 0


@dataclass(frozen=True)
class SetResult:
    """The result of ``SessionClient.set``."""

    #: The session's version after the call.
    version: int
    #: False only for ``only_if_absent`` on an existing session.
    written: bool


@dataclass(frozen=True)
class ReleaseResult:
    """The result of ``SessionClient.release``."""

    #: True if the lock id was the holder's and the lock is now released.
    released: bool


@dataclass(frozen=True)
class ExpireResult:
    """The result of ``SessionClient.expire``."""

    #: False if the session is missing (nothing is created).
    found: bool
    #: The session's ttl in seconds after the call (when found).
    ttl_seconds: int = 0


@dataclass(frozen=True)
class RemoveResult:
    """The result of ``SessionClient.remove``."""

    #: True if the session existed and was removed.
    removed: bool
