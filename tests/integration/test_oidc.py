"""OIDC access tokens against a real server: a JWKS file from a test-made RSA key, tokens signed
with PyJWT (an independent implementation), groups from the roles claim bound to project roles,
admin groups, and the negative cases RFC 8725 warns about, each refused with 401 and audited."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://idp.bank.example/realms/falaj"
AUDIENCE = "falaj-api"


def b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def oidc_server(rsa_key, tmp_path_factory):
    from conftest import FalajServer
    workdir = tmp_path_factory.mktemp("oidc")
    numbers = rsa_key.public_key().public_numbers()
    jwks = {"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
                      "n": b64(numbers.n), "e": b64(numbers.e)}]}
    (workdir / "jwks.json").write_text(json.dumps(jwks))
    server = FalajServer(workdir, env={
        "FALAJ_OIDC_ISSUER": ISSUER, "FALAJ_OIDC_AUDIENCES": AUDIENCE,
        "FALAJ_OIDC_JWKS_FILE": str(workdir / "jwks.json"),
        "FALAJ_OIDC_ADMIN_GROUPS": "falaj-admins"}).start()
    assert server.post("/api/v1/projects",
                       json={"name": "risk", "region": "uae-north"}).status_code == 201
    assert server.request("PUT", "/api/v1/projects/risk/members/group:risk-analysts",
                          json={"role": "viewer"}).status_code == 200
    yield server
    server.stop_and_check()


def token(key, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300,
              "groups": ["risk-analysts"], "preferred_username": "alice"}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def call(server, bearer: str, path: str = "/api/v1/projects/risk", method: str = "GET", **kw):
    return server.request(method, path, auth=f"Bearer {bearer}", **kw)


def test_group_claim_maps_to_project_role(oidc_server, rsa_key):
    bearer = token(rsa_key)
    assert call(oidc_server, bearer).status_code == 200
    listed = call(oidc_server, bearer, "/api/v1/projects")
    assert [p["name"] for p in listed.json()["projects"]] == ["risk"]
    # Viewer only: writing is refused.
    assert call(oidc_server, bearer, method="PATCH", json={"description": "x"}).status_code == 403
    # Without the group, no role at all.
    assert call(oidc_server, token(rsa_key, groups=[])).status_code == 403


def test_admin_group_makes_a_platform_admin(oidc_server, rsa_key):
    bearer = token(rsa_key, sub="root", groups="falaj-admins")
    created = call(oidc_server, bearer, "/api/v1/projects", "POST",
                   json={"name": "ops", "region": "uae-north"})
    assert created.status_code == 201
    audit = oidc_server.get("/api/v1/audit?principal=user:root").json()["records"]
    assert audit and audit[0]["action"] == "projects.create"


def forged_tokens(rsa_key):
    now = int(time.time())
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 60}).encode()
    ).rstrip(b"=").decode()
    good = token(rsa_key)
    head, payload, signature = good.split(".")
    tampered_payload = base64.urlsafe_b64encode(json.dumps(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "iat": now, "exp": now + 60,
         "groups": ["falaj-admins"]}).encode()).rstrip(b"=").decode()
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "alg none": f"{header}.{body}.",
        "HS256 with the RSA public key": _hs256_with(public_pem, now),
        "expired": token(rsa_key, iat=now - 600, exp=now - 300),
        "not yet valid": token(rsa_key, nbf=now + 600),
        "wrong issuer": token(rsa_key, iss="https://evil.example"),
        "wrong audience": token(rsa_key, aud="someone-else"),
        "unknown kid": jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "a", "iat": now,
                                   "exp": now + 60}, rsa_key, algorithm="RS256",
                                  headers={"kid": "k9"}),
        "signed by another key": token(other_key),
        "tampered payload": f"{head}.{tampered_payload}.{signature}",
        "truncated": good[: len(good) // 2] + "." + "x",
        "absurdly large": good + "A" * 10000,  # over the 8 KiB token cap, under the header cap
    }


def _hs256_with(secret: bytes, now: int) -> str:
    # PyJWT refuses to use a PEM as an HMAC secret, so build the token by hand.
    import hashlib
    import hmac
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"k1","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 60}).encode()
    ).rstrip(b"=")
    mac = hmac.new(secret, header + b"." + body, hashlib.sha256).digest()
    return (header + b"." + body + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()


def test_forged_and_invalid_tokens_are_refused_and_audited(oidc_server, rsa_key):
    for name, bad in forged_tokens(rsa_key).items():
        response = call(oidc_server, bad)
        assert response.status_code == 401, f"{name}: {response.status_code} {response.text}"
        body = response.json()["error"]
        assert body["code"] == "UNAUTHENTICATED", name
        assert bad[:40] not in response.text, f"{name}: the token is echoed"
        request_id = response.headers["X-Request-Id"]
        records = oidc_server.get("/api/v1/audit?principal=anonymous&limit=1000").json()["records"]
        assert any(r["request_id"] == request_id and r["outcome"] == "denied"
                   for r in records), f"{name}: no audit record"
