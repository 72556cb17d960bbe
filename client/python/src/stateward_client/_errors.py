"""The one exception class of the client."""

from __future__ import annotations

from typing import Optional

import grpc

__all__ = ["REASON_TRAILER", "StatewardError"]

#: Trailer in which the server sends the stable reason of a refusal (e.g. ``STALE_LOCK_ID``).
REASON_TRAILER = "stateward-reason"


class StatewardError(Exception):
    """A failed Stateward call.

    Attributes:
        code: the gRPC status code (``grpc.StatusCode``): ``ABORTED`` for a conflicting write
            (lock held by someone else, stale lock id, version mismatch), ``INVALID_ARGUMENT``,
            ``RESOURCE_EXHAUSTED``, ``UNAVAILABLE``, ``DEADLINE_EXCEEDED``...
        reason: the server's stable reason from the ``stateward-reason`` trailer, for branching
            without parsing messages; or a client-side reason (``LOCK_WAIT_TIMEOUT``,
            ``SESSION_NOT_FOUND``) for failures of :meth:`SessionClient.locked`; ``None`` if none was sent.
        details: the status message.
    """

    def __init__(self, code: grpc.StatusCode, details: str, reason: Optional[str] = None) -> None:
        self.code = code
        self.details = details
        self.reason = reason
        suffix = f" [{reason}]" if reason else ""
        super().__init__(f"{code.name}: {details}{suffix}")

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "StatewardError":
        """Wraps an error raised by a gRPC call, reading the reason trailer if present."""
        code = grpc.StatusCode.UNKNOWN
        details = str(error)
        reason: Optional[str] = None
        if isinstance(error, grpc.Call):
            code = error.code() or grpc.StatusCode.UNKNOWN
            details = error.details() or ""
            for key, value in error.trailing_metadata() or ():
                if key == REASON_TRAILER:
                    reason = value if isinstance(value, str) else value.decode("utf-8", "replace")
                    break
        return cls(code, details, reason)
