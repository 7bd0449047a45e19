"""OIDC keys fetched from a `jwks_uri` served by a real local HTTPS server (a Python
`http.server` with a certificate from a CA this test makes): keys load at start-up, a rotation is
picked up on the first token naming the new `kid`, and hostile answers (too large, not JSON, too
slow, redirects) are refused with a logged reason while no token signed by an unpublished key is
ever accepted."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import FalajServer, wait_until
from tls_test_pki import CertificateAuthority

ISSUER = "https://idp.example/realms/falaj"
AUDIENCE = "falaj-api"
POLL_TIMEOUT = 30.0


def b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk(kid: str, key) -> dict:
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
            "n": b64(numbers.n), "e": b64(numbers.e)}


class QuietServer(ThreadingHTTPServer):
    # The server under test hangs up on hostile answers on purpose; no tracebacks for that.
    def handle_error(self, request, client_address):
        pass


class JwksEndpoint:
    """Serves `document` at /jwks, or a hostile answer chosen by `mode`."""

    def __init__(self, tls_context: ssl.SSLContext | None):
        self.mode = "normal"
        self.document: dict = {"keys": []}
        self.hits = 0
        self.release = threading.Event()  # ends the "slow" answer at teardown
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                endpoint.hits += 1
                mode = endpoint.mode
                if mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", "https://evil.example/jwks")
                    self.end_headers()
                    return
                if mode == "huge":
                    body = b'{"keys": [' + b" " * (2 << 20) + b"]}"
                elif mode == "not-json":
                    body = b"<html>login page</html>"
                else:
                    body = json.dumps(endpoint.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "slow":
                    self.wfile.write(body[:1])
                    self.wfile.flush()
                    endpoint.release.wait(POLL_TIMEOUT)
                    return
                self.wfile.write(body)

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, scheme: str = "https", host: str = "localhost") -> str:
        return f"{scheme}://{host}:{self.httpd.server_address[1]}/jwks"

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("jwks-pki")
    ca = CertificateAuthority(directory, "idp-ca")
    return ca, ca.issue("localhost", server=True)


@pytest.fixture(scope="module")
def endpoint(pki):
    ca, leaf = pki
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*leaf.pair)
    served = JwksEndpoint(context)
    yield served
    served.close()


@pytest.fixture(scope="module")
def keys():
    return {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for kid in ("k1", "k2", "k3", "k4")}


def oidc_env(url: str, **extra) -> dict:
    env = {"FALAJ_OIDC_ISSUER": ISSUER, "FALAJ_OIDC_AUDIENCES": AUDIENCE,
           "FALAJ_OIDC_JWKS_URI": url, "FALAJ_OIDC_ADMIN_GROUPS": "falaj-admins",
           "FALAJ_OIDC_JWKS_REFRESH_COOLDOWN_SECONDS": "1",
           "FALAJ_OIDC_JWKS_TIMEOUT_SECONDS": "2"}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def oidc_server(endpoint, pki, keys, tmp_path_factory):
    ca, _ = pki
    endpoint.document = {"keys": [jwk("k1", keys["k1"])]}
    server = FalajServer(tmp_path_factory.mktemp("jwks-url"), env=oidc_env(
        endpoint.url(), FALAJ_OIDC_JWKS_CA_FILE=str(ca.cert_file))).start()
    yield server
    server.stop_and_check()


def token(keys, kid: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": f"op-{kid}", "iat": now, "exp": now + 300,
              "groups": ["falaj-admins"]}
    return jwt.encode(claims, keys[kid], algorithm="RS256", headers={"kid": kid})


def status(server, bearer: str) -> int:
    return server.get("/api/v1/projects", auth=f"Bearer {bearer}").status_code


def test_keys_load_from_the_url_at_start(oidc_server, keys, endpoint):
    assert endpoint.hits >= 1
    assert status(oidc_server, token(keys, "k1")) == 200
    # A key the endpoint never published is refused.
    assert status(oidc_server, token(keys, "k4")) == 401


def test_a_rotated_key_is_fetched_on_its_first_unknown_kid(oidc_server, keys, endpoint):
    endpoint.document = {"keys": [jwk("k1", keys["k1"]), jwk("k2", keys["k2"])]}
    before = endpoint.hits
    bearer = token(keys, "k2")
    # Within the cooldown the unknown kid is refused without a fetch; afterwards it refreshes.
    wait_until(lambda: status(oidc_server, bearer) == 200, POLL_TIMEOUT, interval=0.2,
               message="the rotated key to be accepted")
    assert endpoint.hits > before
    # The old key, withdrawn by the next rotation, stops working once the set is refetched.
    endpoint.document = {"keys": [jwk("k2", keys["k2"]), jwk("k3", keys["k3"])]}
    wait_until(lambda: status(oidc_server, token(keys, "k3")) == 200, POLL_TIMEOUT, interval=0.2,
               message="the second rotation to be fetched")
    assert status(oidc_server, token(keys, "k1")) == 401
    assert status(oidc_server, bearer) == 200


@pytest.mark.parametrize("mode,reason", [
    ("huge", "larger than 1048576 bytes"),
    ("not-json", "JWKS document"),
    ("slow", "no complete answer within 2 s"),
    ("redirect", "answered HTTP 302"),
])
def test_hostile_answers_are_refused_and_logged(oidc_server, keys, endpoint, mode, reason):
    # k4 is published only inside the hostile answers' intent: it must never be accepted.
    endpoint.document = {"keys": [jwk("k2", keys["k2"]), jwk("k3", keys["k3"]),
                                  jwk("k4", keys["k4"])]}
    endpoint.mode = mode
    bearer = token(keys, "k4")
    seen_before = len([line for line in oidc_server.log_lines()
                       if line.get("msg", "").startswith("JWKS refresh failed")])

    def refused_and_logged():
        assert status(oidc_server, bearer) == 401
        failures = [line for line in oidc_server.log_lines()
                    if line.get("msg", "").startswith("JWKS refresh failed")]
        return any(reason in line.get("error", "") for line in failures[seen_before:])

    try:
        wait_until(refused_and_logged, POLL_TIMEOUT, interval=0.2, message=f"a logged '{reason}' failure")
    finally:
        endpoint.mode = "normal"
    # The previous keys stay in use.
    assert status(oidc_server, token(keys, "k3")) == 200
    records = oidc_server.get("/api/v1/audit?principal=anonymous&limit=20").json()["records"]
    assert any(r["status"] == 401 and r["outcome"] == "denied" for r in records)


def test_untrusted_or_insecure_jwks_sources_stop_start_up(endpoint, pki, tmp_path):
    ca, _ = pki
    cases = [
        # The IdP's certificate is not signed by anything the server trusts.
        (oidc_env(endpoint.url()), "certificate verify failed"),
        # Plain HTTP leaves the machine: refused before any connection.
        (oidc_env("http://idp.example/jwks"), "must use https://"),
        (oidc_env("ftp://localhost/jwks"), "must start with https://"),
        (oidc_env(endpoint.url(), FALAJ_OIDC_JWKS_CA_FILE=str(tmp_path / "absent.pem")),
         "cannot load JWKS CA file"),
        (oidc_env(endpoint.url(), FALAJ_OIDC_JWKS_FILE=str(tmp_path / "jwks.json")),
         "alternatives"),
        (oidc_env(endpoint.url(), FALAJ_OIDC_JWKS_TIMEOUT_SECONDS="0"), "jwks_timeout_seconds"),
    ]
    for index, (env, needle) in enumerate(cases):
        server = FalajServer(tmp_path / f"bad-{index}", env=env)
        server.spawn()
        code = server.wait_exit()
        assert code != 0
        assert needle in server.stderr() + server.stdout(), (needle, server.stderr())


def test_plain_http_to_loopback_is_allowed(keys, tmp_path):
    plain = JwksEndpoint(None)
    try:
        plain.document = {"keys": [jwk("k1", keys["k1"])]}
        server = FalajServer(tmp_path / "plain", env=oidc_env(plain.url("http", "127.0.0.1")))
        server.start()
        assert status(server, token(keys, "k1")) == 200
        server.stop_and_check()
    finally:
        plain.close()
