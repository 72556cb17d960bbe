from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    INVALID_FIELD: _ClassVar[ErrorReason]
    ITEM_TOO_LARGE: _ClassVar[ErrorReason]
    LOCKED_BY_OTHER: _ClassVar[ErrorReason]
    STALE_LOCK_ID: _ClassVar[ErrorReason]
    LEASE_EXPIRED: _ClassVar[ErrorReason]
    SESSION_GONE: _ClassVar[ErrorReason]
    VERSION_MISMATCH: _ClassVar[ErrorReason]
    MEMORY_BUDGET: _ClassVar[ErrorReason]
    TOO_MANY_WAITERS: _ClassVar[ErrorReason]
    TOO_MANY_APPS: _ClassVar[ErrorReason]
    BATCH_TOO_LARGE: _ClassVar[ErrorReason]
    TOO_MANY_IN_FLIGHT: _ClassVar[ErrorReason]
    DUPLICATE_OPERATION_ID: _ClassVar[ErrorReason]
    DEADLINE_TOO_CLOSE: _ClassVar[ErrorReason]
    OPERATION_CANCELLED: _ClassVar[ErrorReason]
    CLIENT_TOO_SLOW: _ClassVar[ErrorReason]
    WATCHER_TOO_SLOW: _ClassVar[ErrorReason]
    SHUTTING_DOWN: _ClassVar[ErrorReason]
    MISSING_CREDENTIAL: _ClassVar[ErrorReason]
    UNKNOWN_CREDENTIAL: _ClassVar[ErrorReason]
    APP_NOT_ALLOWED: _ClassVar[ErrorReason]
    READ_ONLY_PRINCIPAL: _ClassVar[ErrorReason]
    BACKEND_UNAVAILABLE: _ClassVar[ErrorReason]
    PERSISTENCE_FAILED: _ClassVar[ErrorReason]
ERROR_REASON_UNSPECIFIED: ErrorReason
INVALID_FIELD: ErrorReason
ITEM_TOO_LARGE: ErrorReason
LOCKED_BY_OTHER: ErrorReason
STALE_LOCK_ID: ErrorReason
LEASE_EXPIRED: ErrorReason
SESSION_GONE: ErrorReason
VERSION_MISMATCH: ErrorReason
MEMORY_BUDGET: ErrorReason
TOO_MANY_WAITERS: ErrorReason
TOO_MANY_APPS: ErrorReason
BATCH_TOO_LARGE: ErrorReason
TOO_MANY_IN_FLIGHT: ErrorReason
DUPLICATE_OPERATION_ID: ErrorReason
DEADLINE_TOO_CLOSE: ErrorReason
OPERATION_CANCELLED: ErrorReason
CLIENT_TOO_SLOW: ErrorReason
WATCHER_TOO_SLOW: ErrorReason
SHUTTING_DOWN: ErrorReason
MISSING_CREDENTIAL: ErrorReason
UNKNOWN_CREDENTIAL: ErrorReason
APP_NOT_ALLOWED: ErrorReason
READ_ONLY_PRINCIPAL: ErrorReason
BACKEND_UNAVAILABLE: ErrorReason
PERSISTENCE_FAILED: ErrorReason
