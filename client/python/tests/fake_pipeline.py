"""The Pipeline method for the tests' fake servers: each operation of a batch runs through the fake's
unary handler (with a per-operation context whose deadline is the operation's ``timeout_ms``), and a
refusal becomes the OperationError the real server sends: the code, message, and the reason and
metadata of the ErrorInfo (or of the legacy trailer) the unary handler set."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence, Tuple

import grpc

from stateward_client._errors import _reason_of_trailers
from stateward_client._gen.stateward.v1 import session_state_pb2 as pb


class _Aborted(Exception):
    pass


class OperationContext:
    """What the fakes' unary handlers use of a ServicerContext, for one pipelined operation."""

    def __init__(self, stream: grpc.ServicerContext, timeout_ms: int) -> None:
        self._stream = stream
        self._timeout: Optional[float] = timeout_ms / 1000.0 if timeout_ms else None
        self.trailers: Sequence[Tuple[str, Any]] = ()
        self.code = grpc.StatusCode.UNKNOWN
        self.details = ""

    def time_remaining(self) -> Optional[float]:
        return self._timeout

    def invocation_metadata(self) -> Any:
        return self._stream.invocation_metadata()

    def auth_context(self) -> Any:
        return self._stream.auth_context()

    def set_trailing_metadata(self, metadata: Sequence[Tuple[str, Any]]) -> None:
        self.trailers = tuple(metadata)

    def set_code(self, code: grpc.StatusCode) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        self.details = details

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.code, self.details = code, details
        raise _Aborted()


def serve_pipeline(servicer: Any, requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
    """The body of a fake's ``Pipeline``: one response message per request message, in order."""
    for request in requests:
        results = []
        for op in request.operations:
            kind = op.WhichOneof("request")
            ctx = OperationContext(context, op.timeout_ms)
            try:
                response = getattr(servicer, kind.capitalize())(getattr(op, kind), ctx)
            # A fake's refusal (abort), or a method it leaves to the generated servicer base,
            # which sets UNIMPLEMENTED on the context and raises NotImplementedError.
            except (_Aborted, NotImplementedError):
                reason, metadata = _reason_of_trailers(ctx.trailers)
                error = pb.OperationError(code=ctx.code.value[0], message=ctx.details, reason=reason or "", metadata=dict(metadata))
                results.append(pb.PipelineResult(id=op.id, error=error))
            else:
                results.append(pb.PipelineResult(id=op.id, **{kind: response}))
        if results:
            yield pb.PipelineResponse(results=results)
