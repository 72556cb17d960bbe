"""Stateward client: typed, lock-aware, partition-aware access to the Stateward session-state service.

Quick start::

    from stateward_client import SessionClient

    session_id = "4fb2c0e7a1d94e0b"  # in a web app: the id from the session cookie
    with SessionClient(endpoints=["127.0.0.1:42424"]) as client:
        with client.locked("shop", session_id) as s:
            s.data = s.data + b"!"
"""

from ._client import LockedSession, SessionClient
from ._errors import ERROR_DOMAIN, REASON_TRAILER, STATUS_DETAILS_TRAILER, ClientReason, ErrorReason, StatewardError
from ._policy import (
    DEFAULT_ADDRESS,
    DEFAULT_CHANNEL_OPTIONS,
    DEFAULT_LOCK_WAIT_MS,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    DEFAULT_TRANSPORT,
    DEFAULT_WAITER_LIMIT_RETRY,
    RetryPolicy,
    Transport,
    WaiterLimitRetry,
    retry_service_config,
)
from ._security import TlsOptions
from ._types import ExpireResult, GetResult, LockResult, Outcome, ReleaseResult, RemoveResult, SetResult
from .partitioning import Endpoint, PartitionError, Partitioner

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_CHANNEL_OPTIONS",
    "DEFAULT_LOCK_WAIT_MS",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TRANSPORT",
    "DEFAULT_WAITER_LIMIT_RETRY",
    "ERROR_DOMAIN",
    "REASON_TRAILER",
    "STATUS_DETAILS_TRAILER",
    "ClientReason",
    "Endpoint",
    "ErrorReason",
    "ExpireResult",
    "GetResult",
    "LockResult",
    "LockedSession",
    "Outcome",
    "PartitionError",
    "Partitioner",
    "ReleaseResult",
    "RemoveResult",
    "RetryPolicy",
    "SessionClient",
    "SetResult",
    "StatewardError",
    "TlsOptions",
    "Transport",
    "WaiterLimitRetry",
    "retry_service_config",
]
