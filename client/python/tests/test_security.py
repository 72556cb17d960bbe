"""The client's token and TLS options against fake SessionState servers (plaintext, TLS, mutual
TLS) with certificates made for this run: where the token goes and where it never goes, which
certificates are refused, the constructor's refusals, and the auth refusals as typed errors."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from stateward_client import ErrorReason, SessionClient, StatewardError, TlsOptions

from fake_servers import CLIENT_CN, FakeServer, Principal, make_test_certs

APP = "py-security"
TOKEN = "tok-en_123.ABC~"


@pytest.fixture(scope="module")
def certs() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="stateward-py-certs-") as tmp:
        yield make_test_certs(Path(tmp))


def refusal(client: SessionClient) -> StatewardError:
    with pytest.raises(StatewardError) as info:
        client.get(APP, "sid")
    return info.value


# -- where the token goes ----------------------------------------------------------------------------


def test_token_travels_as_call_credentials_over_tls(certs: Path, transport: str) -> None:
    with FakeServer(certs) as server:
        with SessionClient([server.address], transport=transport, token=TOKEN, tls=TlsOptions(ca_file=certs / "ca.pem")) as client:
            client.get(APP, "sid")
            client.set(APP, "sid", b"x")
        assert [s.authorization for s in server.seen] == [(f"Bearer {TOKEN}",)] * 2


def test_ca_as_pem_in_memory(certs: Path, transport: str) -> None:
    with FakeServer(certs) as server:
        for ca_pem in ((certs / "ca.pem").read_text(), (certs / "ca.pem").read_bytes()):
            with SessionClient([server.address], transport=transport, token=TOKEN, tls=TlsOptions(ca_pem=ca_pem)) as client:
                client.get(APP, "sid")
        assert [s.authorization for s in server.seen] == [(f"Bearer {TOKEN}",)] * 2


def test_token_composed_with_the_callers_credentials(certs: Path, transport: str) -> None:
    credentials = grpc.ssl_channel_credentials(root_certificates=(certs / "ca.pem").read_bytes())
    with FakeServer(certs) as server:
        with SessionClient([server.address], transport=transport, token=TOKEN, credentials=credentials) as client:
            client.get(APP, "sid")
        assert server.seen[0].authorization == (f"Bearer {TOKEN}",)


def test_tls_without_token_sends_no_authorization(certs: Path, transport: str) -> None:
    with FakeServer(certs) as server:
        with SessionClient([server.address], transport=transport, tls=TlsOptions(ca_file=str(certs / "ca.pem"))) as client:
            client.get(APP, "sid")
        assert server.seen[0].authorization == ()


def test_token_over_plaintext_is_refused_without_the_opt_in() -> None:
    with pytest.raises(ValueError) as info:
        SessionClient(["127.0.0.1:1"], token=TOKEN)
    message = str(info.value)
    assert "insecure_token" in message and "tls" in message
    assert TOKEN not in message


def test_insecure_token_sends_the_token_as_plaintext_metadata(transport: str) -> None:
    with FakeServer() as server:
        with SessionClient([server.address], transport=transport, token=TOKEN, insecure_token=True, metadata=[("x-extra", "1")]) as client:
            client.get(APP, "sid")
        with SessionClient([server.address], transport=transport) as client:
            client.get(APP, "sid")
        assert [s.authorization for s in server.seen] == [(f"Bearer {TOKEN}",), ()]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(tls=TlsOptions(), credentials=grpc.ssl_channel_credentials()), ["tls=", "credentials="]),
        (dict(tls=TlsOptions(ca_file="ca.pem", ca_pem=b"x")), ["ca_file", "ca_pem"]),
        (dict(tls=TlsOptions(cert_pem=b"x")), ["key"]),
        (dict(tls=TlsOptions(key_pem=b"x")), ["certificate"]),
        (dict(tls=TlsOptions(server_name="")), ["server_name"]),
        (dict(token=""), ["non-empty"]),
        (dict(token="line\nbreak", insecure_token=True), ["printable"]),
        (dict(token=TOKEN, insecure_token=True, metadata=[("Authorization", "Bearer other")]), ["metadata="]),
    ],
)
def test_constructor_refusals(kwargs: dict[str, object], words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        SessionClient(["127.0.0.1:1"], **kwargs)  # type: ignore[arg-type]
    assert all(w in str(info.value) for w in words), str(info.value)
    assert "line\nbreak" not in str(info.value)


def test_the_key_is_not_in_the_repr() -> None:
    assert "SECRET" not in repr(TlsOptions(cert_pem=b"cert", key_pem=b"SECRET"))


# -- which certificates -------------------------------------------------------------------------------


def test_mutual_tls_client_certificate(certs: Path, transport: str) -> None:
    cert, key = certs / f"client-{CLIENT_CN}.pem", certs / f"client-{CLIENT_CN}.key"
    with FakeServer(certs, client_ca=certs / "ca.pem") as server:
        with SessionClient([server.address], transport=transport, tls=TlsOptions(ca_file=certs / "ca.pem", cert_file=cert, key_file=key)) as client:
            client.get(APP, "sid")
        in_memory = TlsOptions(ca_file=certs / "ca.pem", cert_pem=cert.read_text(), key_pem=key.read_bytes())
        with SessionClient([server.address], transport=transport, tls=in_memory) as client:
            client.get(APP, "sid")
        assert [s.client_cn for s in server.seen] == [CLIENT_CN, CLIENT_CN]
        # Without a certificate, or with one from another CA, the handshake fails.
        with SessionClient([server.address], transport=transport, tls=TlsOptions(ca_file=certs / "ca.pem"), timeout=5) as client:
            assert refusal(client).code is grpc.StatusCode.UNAVAILABLE
        other = TlsOptions(ca_file=certs / "ca.pem", cert_file=certs / "other-client.pem", key_file=certs / "other-client.key")
        with SessionClient([server.address], transport=transport, tls=other, timeout=5) as client:
            assert refusal(client).code is grpc.StatusCode.UNAVAILABLE
        assert len(server.seen) == 2


def test_a_server_certificate_from_another_ca_is_refused(certs: Path, transport: str) -> None:
    with FakeServer(certs) as server:
        with SessionClient([server.address], transport=transport, token=TOKEN, tls=TlsOptions(ca_file=certs / "other-ca.pem"), timeout=5) as client:
            assert refusal(client).code is grpc.StatusCode.UNAVAILABLE
        assert server.seen == []


def test_an_expired_server_certificate_is_refused(certs: Path, transport: str) -> None:
    with FakeServer(certs, cert="expired") as server:
        with SessionClient([server.address], transport=transport, token=TOKEN, tls=TlsOptions(ca_file=certs / "ca.pem"), timeout=5) as client:
            assert refusal(client).code is grpc.StatusCode.UNAVAILABLE
        assert server.seen == []


def test_server_name_override(certs: Path, transport: str) -> None:
    # The certificate names localhost, 127.0.0.1 and ::1: the override is what is checked.
    with FakeServer(certs) as server:
        wrong = TlsOptions(ca_file=certs / "ca.pem", server_name="wrong.example")
        with SessionClient([server.address], transport=transport, tls=wrong, timeout=5) as client:
            assert refusal(client).code is grpc.StatusCode.UNAVAILABLE
        with SessionClient([server.address], transport=transport, tls=TlsOptions(ca_file=certs / "ca.pem", server_name="localhost")) as client:
            client.get(APP, "sid")
        assert len(server.seen) == 1


# -- auth refusals are typed errors -------------------------------------------------------------------

PRINCIPALS = {
    "writer-token": Principal("shop-web", (APP,), "read-write"),
    "reader-token": Principal("reports", (APP,), "read-only"),
}


@pytest.mark.parametrize(
    "token, call, code, reason, metadata",
    [
        (None, "get", grpc.StatusCode.UNAUTHENTICATED, "MISSING_CREDENTIAL", {}),
        ("not-a-principal", "get", grpc.StatusCode.UNAUTHENTICATED, "UNKNOWN_CREDENTIAL", {}),
        ("writer-token", "get-other-app", grpc.StatusCode.PERMISSION_DENIED, "APP_NOT_ALLOWED", {"principal": "shop-web", "app": "elsewhere"}),
        (
            "reader-token",
            "set",
            grpc.StatusCode.PERMISSION_DENIED,
            "READ_ONLY_PRINCIPAL",
            {"principal": "reports", "app": APP, "access": "read-only", "required": "read-write"},
        ),
    ],
)
def test_auth_refusals_are_typed_errors(
    certs: Path, transport: str, token: str | None, call: str, code: grpc.StatusCode, reason: str, metadata: dict[str, str]
) -> None:
    with FakeServer(certs, tokens=PRINCIPALS) as server:
        with SessionClient([server.address], transport=transport, token=token, tls=TlsOptions(ca_file=certs / "ca.pem")) as client:
            with pytest.raises(StatewardError) as info:
                if call == "get":
                    client.get(APP, "sid")
                elif call == "get-other-app":
                    client.get("elsewhere", "sid")
                else:
                    client.set(APP, "sid", b"x")
            # What the principal may do still works.
            if token in PRINCIPALS:
                client.get(APP, "sid")
    e = info.value
    assert (e.code, e.reason, e.metadata) == (code, reason, metadata)
    assert e.error_reason == ErrorReason.Value(reason)
    assert token is None or token not in str(e)
