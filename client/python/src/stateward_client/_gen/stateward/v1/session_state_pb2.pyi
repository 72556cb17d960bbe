import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_OK: _ClassVar[Outcome]
    OUTCOME_NOT_FOUND: _ClassVar[Outcome]
    OUTCOME_LOCKED: _ClassVar[Outcome]

class SessionEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_EVENT_KIND_UNSPECIFIED: _ClassVar[SessionEventKind]
    SESSION_EVENT_KIND_EXPIRED: _ClassVar[SessionEventKind]
    SESSION_EVENT_KIND_REMOVED: _ClassVar[SessionEventKind]
    SESSION_EVENT_KIND_EVICTED: _ClassVar[SessionEventKind]
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_OK: Outcome
OUTCOME_NOT_FOUND: Outcome
OUTCOME_LOCKED: Outcome
SESSION_EVENT_KIND_UNSPECIFIED: SessionEventKind
SESSION_EVENT_KIND_EXPIRED: SessionEventKind
SESSION_EVENT_KIND_REMOVED: SessionEventKind
SESSION_EVENT_KIND_EVICTED: SessionEventKind

class GetRequest(_message.Message):
    __slots__ = ("app", "session_id", "wait_ms")
    APP_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    app: str
    session_id: str
    wait_ms: int
    def __init__(self, app: _Optional[str] = ..., session_id: _Optional[str] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("outcome", "data", "version", "lock_id", "lock_age_ms", "ttl_seconds")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    LOCK_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    outcome: Outcome
    data: bytes
    version: int
    lock_id: int
    lock_age_ms: int
    ttl_seconds: int
    def __init__(self, outcome: _Optional[_Union[Outcome, str]] = ..., data: _Optional[bytes] = ..., version: _Optional[int] = ..., lock_id: _Optional[int] = ..., lock_age_ms: _Optional[int] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class LockRequest(_message.Message):
    __slots__ = ("app", "session_id", "wait_ms", "lease_ms", "create", "ttl_seconds")
    APP_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    LEASE_MS_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    app: str
    session_id: str
    wait_ms: int
    lease_ms: int
    create: bool
    ttl_seconds: int
    def __init__(self, app: _Optional[str] = ..., session_id: _Optional[str] = ..., wait_ms: _Optional[int] = ..., lease_ms: _Optional[int] = ..., create: _Optional[bool] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class LockResponse(_message.Message):
    __slots__ = ("outcome", "data", "version", "lock_id", "lock_age_ms", "ttl_seconds", "created", "lease_ms")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    LOCK_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    LEASE_MS_FIELD_NUMBER: _ClassVar[int]
    outcome: Outcome
    data: bytes
    version: int
    lock_id: int
    lock_age_ms: int
    ttl_seconds: int
    created: bool
    lease_ms: int
    def __init__(self, outcome: _Optional[_Union[Outcome, str]] = ..., data: _Optional[bytes] = ..., version: _Optional[int] = ..., lock_id: _Optional[int] = ..., lock_age_ms: _Optional[int] = ..., ttl_seconds: _Optional[int] = ..., created: _Optional[bool] = ..., lease_ms: _Optional[int] = ...) -> None: ...

class SetRequest(_message.Message):
    __slots__ = ("app", "session_id", "data", "ttl_seconds", "lock_id", "keep_lock", "expected_version", "only_if_absent")
    APP_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    KEEP_LOCK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ONLY_IF_ABSENT_FIELD_NUMBER: _ClassVar[int]
    app: str
    session_id: str
    data: bytes
    ttl_seconds: int
    lock_id: int
    keep_lock: bool
    expected_version: int
    only_if_absent: bool
    def __init__(self, app: _Optional[str] = ..., session_id: _Optional[str] = ..., data: _Optional[bytes] = ..., ttl_seconds: _Optional[int] = ..., lock_id: _Optional[int] = ..., keep_lock: _Optional[bool] = ..., expected_version: _Optional[int] = ..., only_if_absent: _Optional[bool] = ...) -> None: ...

class SetResponse(_message.Message):
    __slots__ = ("version", "written")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    version: int
    written: bool
    def __init__(self, version: _Optional[int] = ..., written: _Optional[bool] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("app", "session_id", "lock_id")
    APP_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    app: str
    session_id: str
    lock_id: int
    def __init__(self, app: _Optional[str] = ..., session_id: _Optional[str] = ..., lock_id: _Optional[int] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: bool
    def __init__(self, released: _Optional[bool] = ...) -> None: ...

class ExpireRequest(_message.Message):
    __slots__ = ("app", "session_id", "ttl_seconds")
    APP_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    app: str
    session_id: str
    ttl_seconds: int
    def __init__(self, app: _Optional[str] = ..., session_id: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class ExpireResponse(_message.Message):
    __slots__ = ("found", "ttl_seconds")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    found: bool
    ttl_seconds: int
    def __init__(self, found: _Optional[bool] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class RemoveRequest(_message.Message):
    __slots__ = ("app", "session_id", "lock_id")
    APP_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    app: str
    session_id: str
    lock_id: int
    def __init__(self, app: _Optional[str] = ..., session_id: _Optional[str] = ..., lock_id: _Optional[int] = ...) -> None: ...

class RemoveResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: bool
    def __init__(self, removed: _Optional[bool] = ...) -> None: ...

class PipelineRequest(_message.Message):
    __slots__ = ("operations", "cancel_ids")
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_IDS_FIELD_NUMBER: _ClassVar[int]
    operations: _containers.RepeatedCompositeFieldContainer[PipelineOperation]
    cancel_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, operations: _Optional[_Iterable[_Union[PipelineOperation, _Mapping]]] = ..., cancel_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class PipelineOperation(_message.Message):
    __slots__ = ("id", "timeout_ms", "get", "lock", "set", "release", "expire", "remove", "traceparent", "tracestate")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    GET_FIELD_NUMBER: _ClassVar[int]
    LOCK_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    TRACESTATE_FIELD_NUMBER: _ClassVar[int]
    id: int
    timeout_ms: int
    get: GetRequest
    lock: LockRequest
    set: SetRequest
    release: ReleaseRequest
    expire: ExpireRequest
    remove: RemoveRequest
    traceparent: str
    tracestate: str
    def __init__(self, id: _Optional[int] = ..., timeout_ms: _Optional[int] = ..., get: _Optional[_Union[GetRequest, _Mapping]] = ..., lock: _Optional[_Union[LockRequest, _Mapping]] = ..., set: _Optional[_Union[SetRequest, _Mapping]] = ..., release: _Optional[_Union[ReleaseRequest, _Mapping]] = ..., expire: _Optional[_Union[ExpireRequest, _Mapping]] = ..., remove: _Optional[_Union[RemoveRequest, _Mapping]] = ..., traceparent: _Optional[str] = ..., tracestate: _Optional[str] = ...) -> None: ...

class PipelineResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PipelineResult]
    def __init__(self, results: _Optional[_Iterable[_Union[PipelineResult, _Mapping]]] = ...) -> None: ...

class PipelineResult(_message.Message):
    __slots__ = ("id", "get", "lock", "set", "release", "expire", "remove", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    GET_FIELD_NUMBER: _ClassVar[int]
    LOCK_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: int
    get: GetResponse
    lock: LockResponse
    set: SetResponse
    release: ReleaseResponse
    expire: ExpireResponse
    remove: RemoveResponse
    error: OperationError
    def __init__(self, id: _Optional[int] = ..., get: _Optional[_Union[GetResponse, _Mapping]] = ..., lock: _Optional[_Union[LockResponse, _Mapping]] = ..., set: _Optional[_Union[SetResponse, _Mapping]] = ..., release: _Optional[_Union[ReleaseResponse, _Mapping]] = ..., expire: _Optional[_Union[ExpireResponse, _Mapping]] = ..., remove: _Optional[_Union[RemoveResponse, _Mapping]] = ..., error: _Optional[_Union[OperationError, _Mapping]] = ...) -> None: ...

class OperationError(_message.Message):
    __slots__ = ("code", "message", "reason", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    reason: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("app",)
    APP_FIELD_NUMBER: _ClassVar[int]
    app: str
    def __init__(self, app: _Optional[str] = ...) -> None: ...

class SessionEvent(_message.Message):
    __slots__ = ("kind", "app", "session_id", "time")
    KIND_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    kind: SessionEventKind
    app: str
    session_id: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[SessionEventKind, str]] = ..., app: _Optional[str] = ..., session_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
