"""The client's defaults and retry policies, as every Stateward SDK has them.

The values are those of the shared client behaviour spec (``docs/client-behaviour.md``,
``proto/client-behaviour.json``), which the TypeScript and Go clients follow too; the tests check
this module against that file.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional, Tuple, TypeVar, Union

import grpc

from ._errors import StatewardError

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_CHANNEL_OPTIONS",
    "DEFAULT_LOCK_WAIT_MS",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TRANSPORT",
    "DEFAULT_WAITER_LIMIT_RETRY",
    "RetryPolicy",
    "Transport",
    "WaiterLimitRetry",
    "retry_service_config",
]

#: The server's default address, used when a client is given no endpoints.
DEFAULT_ADDRESS = "127.0.0.1:42424"

#: Default deadline of a call, in seconds; a waiting Get or Lock adds its ``wait_ms``.
DEFAULT_TIMEOUT = 5.0

#: Default wait for a held lock of :meth:`SessionClient.locked`, in milliseconds: long enough for
#: the other requests of one user to finish, short enough that a request that waited it all still
#: answers within a proxy's or browser's patience.
DEFAULT_LOCK_WAIT_MS = 10_000

#: The transports of :class:`SessionClient`: batched over one ``Pipeline`` stream per endpoint, or
#: one unary call per operation.
Transport = Literal["pipeline", "unary"]

#: The default transport (see ``README.md`` for the measurements behind it).
DEFAULT_TRANSPORT: Transport = "pipeline"

#: The gRPC service, as the service config names it.
_SERVICE = "stateward.v1.SessionState"
#: The calls that are safe to run twice, hence retried on ``UNAVAILABLE``.
IDEMPOTENT_METHODS = ("Get", "Expire", "Release")


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of the idempotent calls (Get, Expire, Release) on ``UNAVAILABLE``, by gRPC's own
    retry support (the channel's service config). Lock, Set and Remove are never retried: they may
    have run. Each retry comes after a random delay of up to the current backoff.

    Attributes:
        max_attempts: attempts in all, the first included (gRPC caps it at 5); 1 disables retries.
        initial_backoff_ms: the backoff before the first retry.
        max_backoff_ms: the longest backoff.
        backoff_multiplier: the factor by which the backoff grows per retry.
    """

    max_attempts: int = 4
    initial_backoff_ms: int = 50
    max_backoff_ms: int = 1_000
    backoff_multiplier: float = 2.0


#: The default :class:`RetryPolicy`: 4 attempts, backoffs from 50 ms doubling up to 1 s.
DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class WaiterLimitRetry:
    """Retry of a lock wait refused with ``RESOURCE_EXHAUSTED`` / ``TOO_MANY_WAITERS`` (the session's
    queue was full: the server's ``--max-waiters``), so the call never started waiting. Each retry
    comes after a random delay of up to the current backoff ("full jitter", so that the refused
    callers do not come back together); the backoff doubles per retry up to ``max_backoff_ms``.
    Retries happen only within the caller's wait (and ``timeout``, when given): once it is spent, one
    last look that does not wait answers as a wait that ran out does.

    Attributes:
        initial_backoff_ms: the first retry comes a random 0 to this many ms later.
        max_backoff_ms: the longest backoff.
    """

    initial_backoff_ms: int = 20
    max_backoff_ms: int = 1_000


#: The default :class:`WaiterLimitRetry`: a first retry within 20 ms, backoffs of at most 1 s.
DEFAULT_WAITER_LIMIT_RETRY = WaiterLimitRetry()

#: The factor by which the waiter-limit backoff grows per retry.
_WAITER_LIMIT_MULTIPLIER = 2

#: Channel options, over gRPC's defaults; a client's own ``options`` override them by name.
#:
#: - keepalive pings every 30 s with a 10 s timeout while a call is open (a silently dead node or a
#:   dropped NAT flow is noticed within about 40 s, not at the next TCP timeout), never without calls;
#: - reconnect backoff from 250 ms up to 5 s, so a restarted node is found again within seconds
#:   (gRPC's default maximum is 120 s);
#: - no receive limit: the server bounds what it sends (``--max-item-bytes``, up to 1 GiB).
DEFAULT_CHANNEL_OPTIONS: Tuple[Tuple[str, Any], ...] = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 5_000),
    ("grpc.max_receive_message_length", -1),
    ("grpc.enable_retries", 1),
)


def retry_service_config(policy: Union[RetryPolicy, Literal[False]] = DEFAULT_RETRY) -> str:
    """The gRPC service config (JSON) carrying ``policy`` for Get, Expire and Release, for the
    ``grpc.service_config`` channel option; ``False`` (or one attempt) configures no retries. The same
    document as the TypeScript client's ``retryServiceConfig()``."""
    if policy is False or policy.max_attempts < 2:
        return json.dumps({"methodConfig": []})

    def seconds(ms: float) -> str:
        return f"{ms / 1000:.3f}s"

    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": _SERVICE, "method": method} for method in IDEMPOTENT_METHODS],
                    "retryPolicy": {
                        "maxAttempts": min(5, max(1, policy.max_attempts)),
                        "initialBackoff": seconds(max(1, policy.initial_backoff_ms)),
                        "maxBackoff": seconds(max(1, policy.max_backoff_ms)),
                        "backoffMultiplier": max(1.0, policy.backoff_multiplier),
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def is_waiter_limit_error(error: StatewardError) -> bool:
    """True for the server's refusal of a call because the session's queue was full."""
    return error.code is grpc.StatusCode.RESOURCE_EXHAUSTED and error.reason == "TOO_MANY_WAITERS"


T = TypeVar("T")


def retry_waiter_limit(
    retry: Union[WaiterLimitRetry, Literal[False]],
    wait_ms: int,
    timeout: Optional[float],
    attempt: Callable[[int, Optional[float]], T],
) -> T:
    """Runs a waiting call (``attempt(wait_ms_left, timeout_left)``), retrying it per ``retry`` while
    the server refuses it with ``TOO_MANY_WAITERS``, never past the wait budget or ``timeout``.

    Raises:
        StatewardError: whatever the last attempt raised: ``TOO_MANY_WAITERS`` itself only with
            ``retry=False``, or when ``timeout`` ends before the wait does.
    """
    started = time.monotonic()
    wait_end = started + max(0, wait_ms) / 1000.0
    call_end = None if timeout is None else started + max(0.0, timeout)
    ceiling = 0.0 if retry is False else float(max(1, retry.initial_backoff_ms))
    cap = ceiling if retry is False else float(max(retry.initial_backoff_ms, retry.max_backoff_ms))
    wait_left = max(0, wait_ms)
    while True:
        now = time.monotonic()
        try:
            return attempt(wait_left, None if call_end is None else max(0.001, call_end - now))
        except StatewardError as error:
            # A call that did not wait cannot have been refused for the queue: never loop on it.
            if retry is False or wait_left == 0 or not is_waiter_limit_error(error):
                raise
            # Never sleep past the wait: once it is spent, the next attempt does not wait and
            # answers as an expired wait would.
            delay = min(random.random() * ceiling, max(0.0, wait_end - time.monotonic()) * 1000) / 1000.0
            if call_end is not None and time.monotonic() + delay >= call_end:
                raise
            time.sleep(delay)
            ceiling = min(ceiling * _WAITER_LIMIT_MULTIPLIER, cap)
            wait_left = max(0, int((wait_end - time.monotonic()) * 1000))
