"""Mutual TLS against a real server, with a PKI made by the test: a verified client certificate
identifies a service as cert:<CN> that role bindings name; a missing certificate (when required)
or one from another CA fails the handshake and is audited; a bearer credential still wins over
the certificate. Over gRPC the same rules hold: a verified certificate names the caller."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import requests

from conftest import FalajServer, assert_error_shape, wait_until
from serving_helpers import compile_grpc_stubs
from tls_test_pki import CertificateAuthority


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mtls-pki")
    trusted = CertificateAuthority(directory / "trusted", "falaj-clients-ca")
    stranger = CertificateAuthority(directory / "stranger", "other-ca")
    return {
        "ca": trusted,
        "server": trusted.issue("localhost", server=True),
        "scorer": trusted.issue("svc-scorer", server=False),
        "odd": trusted.issue("svc scorer/../admin", server=False),
        "impostor": stranger.issue("svc-scorer", server=False),
    }


class MtlsServer(FalajServer):
    """A FalajServer whose own requests (readiness, admin calls) present a client certificate."""

    client_cert: tuple | None = None

    def request(self, method, path, **kwargs):
        if self.client_cert is not None:
            kwargs.setdefault("cert", self.client_cert)
        return super().request(method, path, **kwargs)


def start(directory, pki, mode: str) -> MtlsServer:
    server = MtlsServer(directory, ca_file=pki["ca"].cert_file, env={
        "FALAJ_TLS_CERT_FILE": str(pki["server"].cert),
        "FALAJ_TLS_KEY_FILE": str(pki["server"].key),
        "FALAJ_TLS_CLIENT_AUTH": mode,
        "FALAJ_TLS_CLIENT_CA_FILE": str(pki["ca"].cert_file)})
    server.client_cert = pki["scorer"].pair
    return server.start()


@pytest.fixture(scope="module")
def required(pki, tmp_path_factory):
    server = start(tmp_path_factory.mktemp("mtls-required"), pki, "required")
    assert server.post("/api/v1/projects",
                       json={"name": "risk", "region": "uae-north"}).status_code == 201
    yield server
    server.stop_and_check()


def as_service(server, cert, path="/api/v1/projects/risk", method="GET", **kwargs):
    return server.request(method, path, auth=False, cert=cert, **kwargs)


def handshake_audits(server, why: str) -> list:
    records = server.get("/api/v1/audit?principal=anonymous&limit=200").json()["records"]
    return [r for r in records if r["action"] == "tls.client_certificate" and r["resource"] == why]


def test_a_bound_certificate_identity_gets_its_role(required, pki):
    scorer = pki["scorer"].pair
    unbound = as_service(required, scorer)
    assert "no role in project 'risk'" in assert_error_shape(unbound, 403,
                                                             "PERMISSION_DENIED")["message"]
    bound = required.request("PUT", "/api/v1/projects/risk/members/cert:svc-scorer",
                             json={"role": "viewer"})
    assert bound.status_code == 200, bound.text
    assert as_service(required, scorer).status_code == 200
    # Viewer only: a write is refused and audited under the certificate's identity.
    refused = as_service(required, scorer, method="PATCH", json={"description": "x"})
    assert refused.status_code == 403
    records = required.get("/api/v1/audit?principal=cert:svc-scorer&limit=50").json()["records"]
    assert any(r["request_id"] == refused.headers["X-Request-Id"] and r["outcome"] == "denied"
               for r in records)


def test_a_bearer_credential_wins_over_the_certificate(required, pki):
    answer = required.post("/api/v1/projects", json={"name": "ops", "region": "uae-north"})
    assert answer.status_code == 201
    records = required.get("/api/v1/audit?resource_prefix=/api/v1/projects&limit=50").json()
    creator = [r for r in records["records"]
               if r["request_id"] == answer.headers["X-Request-Id"]]
    assert creator and creator[0]["principal"].startswith("key:")


def test_grpc_callers_are_named_by_their_certificate(required, pki, tmp_path):
    messages, services = compile_grpc_stubs(tmp_path)
    assert required.post("/api/v1/projects",
                         json={"name": "scoring", "region": "uae-north"}).status_code == 201

    def metadata(pair, key=None):
        credentials = grpc.ssl_channel_credentials(
            root_certificates=pki["ca"].cert_file.read_bytes(),
            private_key=Path(pair[1]).read_bytes() if pair else None,
            certificate_chain=Path(pair[0]).read_bytes() if pair else None)
        with grpc.secure_channel(f"localhost:{required.grpc_port}", credentials) as channel:
            stub = services.GRPCInferenceServiceStub(channel)
            try:
                stub.ModelMetadata(messages.ModelMetadataRequest(name="scoring.absent"),
                                   metadata=[("authorization", f"Bearer {key}")] if key else None,
                                   timeout=30)
            except grpc.RpcError as error:
                return error.code()
        return grpc.StatusCode.OK

    scorer = tuple(pki["scorer"].pair)
    # Without a binding the service is known but has no role; bound as a viewer it passes the
    # permission check and learns the model does not exist.
    assert metadata(scorer) == grpc.StatusCode.PERMISSION_DENIED
    bound = required.request("PUT", "/api/v1/projects/scoring/members/cert:svc-scorer",
                             json={"role": "viewer"})
    assert bound.status_code == 200, bound.text
    assert metadata(scorer) == grpc.StatusCode.NOT_FOUND
    # A foreign certificate never completes the handshake.
    assert metadata(tuple(pki["impostor"].pair), required.key) == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("cert,why", [
    (None, "no client certificate"),
    ("impostor", "client certificate not verified"),
])
def test_missing_or_foreign_certificates_fail_the_handshake_and_are_audited(
        required, pki, cert, why):
    before = len(handshake_audits(required, why))
    with pytest.raises(requests.exceptions.RequestException):
        as_service(required, pki[cert].pair if cert else None,
                   headers={"Authorization": f"Bearer {required.key}"})
    wait_until(lambda: len(handshake_audits(required, why)) > before, 30.0,
               message=f"an audit record '{why}'")
    record = handshake_audits(required, why)[0]
    assert record["outcome"] == "denied" and record["status"] == 401
    assert record["source"].startswith("127.0.0.1:")


def test_optional_mode_accepts_bearers_without_a_certificate(pki, tmp_path):
    server = start(tmp_path / "optional", pki, "optional")
    try:
        no_cert = server.request("GET", "/api/v1/projects", cert=None)
        assert no_cert.status_code == 200
        anonymous = server.request("GET", "/api/v1/projects", cert=None, auth=False)
        assert_error_shape(anonymous, 401, "UNAUTHENTICATED")
        # With a verified certificate and no bearer the service is known: listed projects are
        # only those it is bound in (none yet).
        listed = server.request("GET", "/api/v1/projects", auth=False)
        assert listed.status_code == 200 and listed.json()["projects"] == []
        # A CN that is not a safe identity is refused, not mangled into one.
        odd = server.request("GET", "/api/v1/projects", auth=False, cert=pki["odd"].pair)
        assert "subject CN" in assert_error_shape(odd, 401, "UNAUTHENTICATED")["message"]
        with pytest.raises(requests.exceptions.RequestException):
            server.request("GET", "/api/v1/projects", cert=pki["impostor"].pair)
        server.stop_and_check()
    finally:
        server.kill()


def test_client_auth_settings_are_validated(pki, tmp_path):
    base = {"FALAJ_TLS_CERT_FILE": str(pki["server"].cert),
            "FALAJ_TLS_KEY_FILE": str(pki["server"].key)}
    cases = [
        ({"FALAJ_TLS_CLIENT_AUTH": "sometimes"}, "must be none, optional or required"),
        ({"FALAJ_TLS_CLIENT_AUTH": "required"}, "server.tls.client_ca_file"),
        ({"FALAJ_TLS_CLIENT_AUTH": "required",
          "FALAJ_TLS_CLIENT_CA_FILE": str(tmp_path / "absent.pem")}, "client CA file"),
    ]
    for index, (env, needle) in enumerate(cases):
        server = FalajServer(tmp_path / f"bad-{index}", env={**base, **env})
        server.spawn()
        assert server.wait_exit() != 0
        assert needle in server.stderr() + server.stdout(), (needle, server.stderr())
