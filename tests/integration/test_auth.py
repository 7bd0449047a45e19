"""Authentication: API keys on every non-public route, the bootstrap admin key, and its file."""

import os
import re
import stat

import pytest

from conftest import assert_error_shape, unique_name

PROJECTS = "/api/v1/projects"
PUBLIC_ROUTES = ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.yaml"]
KEY_NOTICE = re.compile(r"falaj: created admin API key (\S+)")


def protected_requests(name):
    return [
        ("GET", PROJECTS, None),
        ("POST", PROJECTS, {"name": name, "region": "eu-west"}),
        ("GET", f"{PROJECTS}/{name}", None),
        ("PATCH", f"{PROJECTS}/{name}", {"description": "hijacked"}),
        ("DELETE", f"{PROJECTS}/{name}", None),
    ]


def test_missing_header_is_401_on_every_protected_route(server):
    name = unique_name("auth")
    created = server.create_project(name, description="original")
    assert created.status_code == 201
    for method, path, body in protected_requests(name):
        response = server.request(method, path, auth=False, json=body)
        error = assert_error_shape(response, 401, "UNAUTHENTICATED")
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), \
            (method, path, response.headers)
        assert "Authorization" in error["message"]
    # Nothing was changed by the refused requests.
    assert server.get(f"{PROJECTS}/{name}").json() == created.json()


@pytest.mark.parametrize("header", [
    "Bearer wrong-key",
    "Bearer fk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "Bearer " + "x" * 256,
])
def test_wrong_key_is_401(server, header):
    response = server.get(PROJECTS, auth=header)
    assert_error_shape(response, 401, "UNAUTHENTICATED")
    assert "invalid_token" in response.headers.get("WWW-Authenticate", "")


def test_near_miss_keys_are_401(server):
    key = server.key
    for candidate in (key[:-1], key + "x", key[1:], key.upper(), key.swapcase(),
                      key[:-1] + ("A" if key[-1] != "A" else "B")):
        assert candidate != key
        assert_error_shape(server.get(PROJECTS, auth=f"Bearer {candidate}"), 401,
                           "UNAUTHENTICATED")


@pytest.mark.parametrize("header", [
    "Basic YWRtaW46YWRtaW4=",
    "Digest username=admin",
    "Token abc",
    "Bearer",
    "Bearer ",
    "Bearerxyz",
    "",
])
def test_other_schemes_and_malformed_headers_are_401(server, header):
    response = server.get(PROJECTS, auth=header)
    assert_error_shape(response, 401, "UNAUTHENTICATED")
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_basic_scheme_carrying_the_real_key_is_401(server):
    # The key is only accepted with the Bearer scheme.
    assert_error_shape(server.get(PROJECTS, auth=f"Basic {server.key}"), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("size", [257, 4096, 12 * 1024])
def test_huge_bearer_token_is_401_not_500(server, size):
    response = server.get(PROJECTS, auth="Bearer " + "k" * size)
    assert_error_shape(response, 401, "UNAUTHENTICATED")
    server.assert_healthy()


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_scheme_is_case_insensitive(server, scheme):
    response = server.get(PROJECTS, auth=f"{scheme} {server.key}")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", PUBLIC_ROUTES)
def test_public_routes_need_no_key(server, path):
    assert server.get(path, auth=False).status_code == 200
    # A bad key does not spoil a public route either.
    assert server.get(path, auth="Bearer nonsense").status_code == 200


def test_admin_key_file_is_private_and_works(make_server):
    server = make_server("keyfile").start()
    path = server.data_dir / "admin.key"
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600, oct(mode)
    content = path.read_text()
    assert content.endswith("\n") and content.count("\n") == 1
    key = content.strip()
    assert len(key) >= 24
    assert server.get(PROJECTS, auth=f"Bearer {key}").status_code == 200
    server.stop_and_check()


def test_admin_key_is_printed_once(make_server, tmp_path):
    first = make_server("once").start()
    key_file = first.data_dir / "admin.key"
    key = key_file.read_text().strip()
    notices = KEY_NOTICE.findall(first.stdout())
    assert notices == [key], first.stdout()
    # The key goes to stdout only, never into the JSON log.
    assert key not in first.stderr()
    name = unique_name("kept")
    assert first.create_project(name).status_code == 201
    first.stop_and_check()
    inode = os.stat(key_file).st_ino

    first.start()  # same data directory
    assert "created admin API key" not in first.stdout()
    assert key not in first.stdout() + first.stderr()
    assert key_file.read_text().strip() == key
    assert os.stat(key_file).st_ino == inode
    assert first.get(PROJECTS, auth=f"Bearer {key}").status_code == 200
    assert name in first.project_names()
    first.stop_and_check()


def test_configured_bootstrap_key(make_server):
    configured = "bootstrap-" + "k" * 30
    server = make_server("bootstrap", env={"FALAJ_BOOTSTRAP_ADMIN_KEY": configured}).start()
    assert not (server.data_dir / "admin.key").exists()
    assert "created admin API key" not in server.stdout()
    # The secret never appears in the output.
    assert configured not in server.stdout() + server.stderr()
    assert server.get(PROJECTS, auth=f"Bearer {configured}").status_code == 200
    assert server.create_project(unique_name("boot")).status_code == 201
    assert_error_shape(server.get(PROJECTS, auth="Bearer " + configured[:-1]), 401,
                       "UNAUTHENTICATED")
    server.stop_and_check()
    # It keeps working after a restart.
    server.start()
    assert server.get(PROJECTS, auth=f"Bearer {configured}").status_code == 200
    assert not (server.data_dir / "admin.key").exists()
    server.stop_and_check()


def test_bootstrap_key_of_minimum_length_is_accepted(make_server):
    configured = "m" * 24
    server = make_server("minkey", env={"FALAJ_BOOTSTRAP_ADMIN_KEY": configured}).start()
    assert server.get(PROJECTS, auth=f"Bearer {configured}").status_code == 200
    server.stop_and_check()


def test_short_bootstrap_key_fails_start_up(make_server):
    short = "s" * 23
    server = make_server("shortkey", env={"FALAJ_BOOTSTRAP_ADMIN_KEY": short})
    server.spawn()
    code = server.wait_exit()
    assert code != 0
    log = server.stderr() + server.stdout()
    assert "FALAJ_BOOTSTRAP_ADMIN_KEY" in log
    assert "24" in log
    assert short not in log, "the rejected secret must not be echoed"
    assert not (server.data_dir / "admin.key").exists()
    assert "listening" not in log
