"""How a client's token and TLS options become channel credentials, channel options and metadata.

The token travels as ``authorization: Bearer <token>``: over TLS as gRPC call credentials (which
grpcio attaches only to secure channels), over plaintext only when the caller opts in with
``insecure_token=True``, as plain metadata, for local development against a server with an auth
file. The same rules as the TypeScript and Go clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Tuple, Union

import grpc

__all__ = ["AUTHORIZATION_HEADER", "ChannelSecurity", "TlsOptions", "channel_security"]

#: The metadata key the token travels in.
AUTHORIZATION_HEADER = "authorization"

Pem = Union[str, bytes]
PathLike = Union[str, Path]


@dataclass(frozen=True)
class TlsOptions:
    """TLS for every endpoint of a :class:`SessionClient` (``tls=TlsOptions(...)``).

    Each of the CA, the client certificate and its key comes from a file or from PEM in memory,
    not both. Without a CA, the server certificate is checked against the system's roots.

    Attributes:
        ca_file: PEM file of the CA (or CAs) that signed the server's certificate.
        ca_pem: the same as PEM text or bytes.
        cert_file: PEM file of this client's certificate, for a server that requires mutual TLS
            (``--tls-client-ca``); needs the key.
        cert_pem: the same as PEM.
        key_file: PEM file of the client certificate's private key; needs the certificate.
        key_pem: the same as PEM.
        server_name: the name checked against the server's certificate instead of the endpoint's
            host (``grpc.ssl_target_name_override``), e.g. ``"localhost"`` for a certificate
            without the address being dialled.
    """

    ca_file: Optional[PathLike] = None
    ca_pem: Optional[Pem] = field(default=None, repr=False)
    cert_file: Optional[PathLike] = None
    cert_pem: Optional[Pem] = field(default=None, repr=False)
    key_file: Optional[PathLike] = None
    # The key is a secret: never in a repr (logs, tracebacks).
    key_pem: Optional[Pem] = field(default=None, repr=False)
    server_name: Optional[str] = None


@dataclass(frozen=True)
class ChannelSecurity:
    """What :func:`channel_security` resolved: credentials for ``grpc.secure_channel`` (``None``:
    plaintext), extra channel options, and metadata for every call (the opted-in plaintext token)."""

    credentials: Optional[grpc.ChannelCredentials]
    options: Tuple[Tuple[str, Any], ...] = ()
    metadata: Tuple[Tuple[str, str], ...] = field(default=(), repr=False)


def _pem(name: str, path: Optional[PathLike], pem: Optional[Pem]) -> Optional[bytes]:
    """The PEM bytes of a file or of PEM given in memory; an error when both are given."""
    if path is not None and pem is not None:
        raise ValueError(f"TlsOptions: give {name}_file or {name}_pem, not both")
    if path is not None:
        return Path(path).read_bytes()
    if pem is not None:
        return pem.encode("ascii") if isinstance(pem, str) else bytes(pem)
    return None


def _check_token(token: str) -> None:
    """A token that cannot travel as a header value is refused here, without echoing it."""
    if not isinstance(token, str) or token == "":
        raise ValueError("token must be a non-empty string (is the variable it comes from set?)")
    if not all("\x21" <= ch <= "\x7e" for ch in token):
        raise ValueError("token must be printable ASCII without spaces (the value is not shown)")


def _ssl_credentials(tls: TlsOptions) -> Tuple[grpc.ChannelCredentials, Tuple[Tuple[str, Any], ...]]:
    ca = _pem("ca", tls.ca_file, tls.ca_pem)
    cert = _pem("cert", tls.cert_file, tls.cert_pem)
    key = _pem("key", tls.key_file, tls.key_pem)
    if (cert is None) != (key is None):
        raise ValueError("TlsOptions: a client certificate needs its key and a key its certificate (cert_* and key_* together, or neither)")
    credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    options: Tuple[Tuple[str, Any], ...] = ()
    if tls.server_name is not None:
        if tls.server_name == "":
            raise ValueError("TlsOptions: server_name must not be empty")
        options = (("grpc.ssl_target_name_override", tls.server_name),)
    return credentials, options


def channel_security(
    *,
    token: Optional[str],
    tls: Optional[TlsOptions],
    credentials: Optional[grpc.ChannelCredentials],
    insecure_token: bool,
    metadata: Sequence[Tuple[str, str]],
) -> ChannelSecurity:
    """Resolves the security arguments of :class:`SessionClient`, refusing unsafe or ambiguous ones
    with a ``ValueError`` that names the arguments to change."""
    if tls is not None and credentials is not None:
        raise ValueError("give tls= or credentials=, not both (tls= builds the channel credentials itself)")
    options: Tuple[Tuple[str, Any], ...] = ()
    channel_credentials = credentials
    if tls is not None:
        channel_credentials, options = _ssl_credentials(tls)
    if token is None:
        return ChannelSecurity(channel_credentials, options)
    _check_token(token)
    if any(key.lower() == AUTHORIZATION_HEADER for key, _ in metadata):
        raise ValueError("give token= or an authorization entry in metadata=, not both")
    if channel_credentials is not None:
        # Call credentials: grpcio sends them only on secure channels, never in plaintext.
        call_credentials = grpc.access_token_call_credentials(token)
        return ChannelSecurity(grpc.composite_channel_credentials(channel_credentials, call_credentials), options)
    if not insecure_token:
        raise ValueError(
            "token= needs TLS: pass tls=TlsOptions(ca_file=...) (or credentials=); to send the token "
            "over a plaintext channel for local development, pass insecure_token=True"
        )
    return ChannelSecurity(None, options, ((AUTHORIZATION_HEADER, f"Bearer {token}"),))
