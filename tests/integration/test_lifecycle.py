"""Process lifecycle: graceful and abrupt stops, durability across restarts, configuration
loading and validation, and TLS."""

import signal
import sqlite3
import subprocess
import threading
import time

import pytest
import requests
import yaml

from conftest import (base_env, binary_path, read_http_response, recv_until_closed, unique_name,
                      wait_until)

PROJECTS = "/api/v1/projects"


# ----- stopping ------------------------------------------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_exits_cleanly(make_server, signum):
    server = make_server("sig").start()
    assert server.create_project(unique_name("sig")).status_code == 201
    server.process.send_signal(signum)
    assert server.wait_exit() == 0, server.stderr()[-3000:]
    messages = [line["msg"] for line in server.log_lines()]
    assert "signal received" in messages
    assert messages[-1] == "exited cleanly", messages[-5:]
    server.assert_no_sanitizer_reports()


def test_sigterm_does_not_wait_for_idle_keep_alive_connections(make_server):
    """Idle connections are closed at once on shutdown; only in-flight requests get the
    grace period."""
    server = make_server("idle-stop", env={"FALAJ_IDLE_TIMEOUT_SECONDS": "120",
                                           "FALAJ_SHUTDOWN_GRACE_SECONDS": "60"}).start()
    idle = []
    for _ in range(3):
        sock = server.connect()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_http_response(sock)["status"] == 200
        idle.append(sock)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    code = server.wait_exit(timeout=60)
    elapsed = time.monotonic() - started
    assert code == 0
    # Far below the 60 s grace period: the server did not wait for the idle clients.
    assert elapsed < 20, elapsed
    for sock in idle:
        data, closed = recv_until_closed(sock, timeout=5)
        assert closed and data == b""
        sock.close()
    assert "exited cleanly" in server.stderr()
    server.assert_no_sanitizer_reports()


def test_sigterm_with_a_stuck_client_ends_after_the_grace_period(make_server):
    """A client stuck mid-headers (header timeout far away) cannot hold shutdown beyond the
    grace period."""
    server = make_server("stuck", env={"FALAJ_HEADER_TIMEOUT_SECONDS": "300",
                                       "FALAJ_IDLE_TIMEOUT_SECONDS": "300",
                                       "FALAJ_SHUTDOWN_GRACE_SECONDS": "1"}).start()
    stuck = server.connect()
    stuck.sendall(b"GET /healthz HTTP/1.1\r\nHo")
    # The server has the partial request before we signal it: it answers another client.
    assert server.get("/healthz", auth=False).status_code == 200
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    code = server.wait_exit(timeout=60)
    elapsed = time.monotonic() - started
    stuck.close()
    assert code == 0, server.stderr()[-3000:]
    assert 0.5 <= elapsed < 25, elapsed
    assert "exited cleanly" in server.stderr()
    server.assert_no_sanitizer_reports()


def test_data_survives_a_graceful_restart(make_server):
    server = make_server("restart").start()
    created = {}
    for i in range(5):
        name = unique_name(f"keep{i}")
        response = server.create_project(name, "uae-central", description=f"number {i}",
                                         labels={"i": str(i)})
        assert response.status_code == 201
        created[name] = response.json()
    deleted = next(iter(created))
    assert server.delete(f"{PROJECTS}/{deleted}").status_code == 204
    del created[deleted]
    patched = next(iter(created))
    created[patched] = server.patch(f"{PROJECTS}/{patched}", json={"description": "new"}).json()
    key = server.key
    server.stop_and_check()

    server.start()
    assert server.key == key
    listed = {p["name"]: p for p in server.get(PROJECTS).json()["projects"]}
    assert listed == created
    assert server.get(f"{PROJECTS}/{deleted}").status_code == 404
    server.stop_and_check()


def test_acknowledged_writes_survive_kill_9(make_server):
    """Every create that was answered 201 is still there after SIGKILL and a restart."""
    server = make_server("durable").start()
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()
    failures_after_kill = []

    def writer(worker):
        i = 0
        while not stop.is_set() and i < 5000:
            name = f"dur-{worker}-{i}"
            i += 1
            try:
                response = server.create_project(name, labels={"w": str(worker)})
            except requests.RequestException as exc:
                failures_after_kill.append(repr(exc))
                return
            if response.status_code == 201:
                with lock:
                    acknowledged.append(name)
            else:
                failures_after_kill.append(response.status_code)
                return

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(acknowledged) >= 60, 60, message="60 acknowledged creates")
        server.kill()  # SIGKILL mid-loop, with writes in flight
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    with lock:
        expected = set(acknowledged)
    assert server.process.returncode == -signal.SIGKILL

    server.start()  # same data directory; the database must open and migrate
    present = set(server.project_names())
    missing = expected - present
    assert not missing, f"{len(missing)} acknowledged projects lost: {sorted(missing)[:10]}"
    # Writes that were in flight may or may not have landed, but nothing else appears.
    assert all(name.startswith("dur-") for name in present)
    assert server.create_project(unique_name("after")).status_code == 201
    server.stop_and_check()

    database = sqlite3.connect(server.data_dir / "falaj.db")
    try:
        assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        database.close()


# ----- configuration -------------------------------------------------------------------------------

def run_falaj(args, env=None, home=None, timeout=60):
    full_env = base_env(home or "/nonexistent")
    full_env.update(env or {})
    return subprocess.run([str(binary_path())] + list(args), capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def start_expecting_failure(tmp_path, config_text=None, env=None, args=()):
    """Runs `falaj server` with a configuration that must be refused."""
    command = ["server", "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0"]
    config_path = None
    if config_text is not None:
        config_path = tmp_path / "bad-config.yaml"
        config_path.write_text(config_text)
        command += ["--config", str(config_path)]
    result = run_falaj(command + list(args), env=env, home=tmp_path)
    output = result.stdout + result.stderr
    assert "listening" not in output, "a refused configuration must not start serving"
    return result.returncode, output, config_path


@pytest.mark.parametrize("config_text, key", [
    ("bogus: 1\n", "bogus"),
    ("server:\n  lissten: 127.0.0.1:0\n", "server.lissten"),
    ("server:\n  tls:\n    cert: x\n", "server.tls.cert"),
    ("storage:\n  data_dir: /tmp\n  engine: rocks\n", "storage.engine"),
    ("log:\n  level: info\n  format: text\n", "log.format"),
    ("nested:\n  deeper:\n    key: 1\n", "nested"),
])
def test_unknown_config_key_exits_2(tmp_path, config_text, key):
    code, output, path = start_expecting_failure(tmp_path, config_text)
    assert code == 2, output
    assert f"'{key}'" in output, output
    assert str(path) in output, output


@pytest.mark.parametrize("config_text, key", [
    ("server:\n  body_limit_bytes: lots\n", "server.body_limit_bytes"),
    ("server:\n  header_timeout_seconds: 1.5\n", "server.header_timeout_seconds"),
    ("server:\n  worker_threads: [1, 2]\n", "server.worker_threads"),
    ("server:\n  listen: {host: x}\n", "server.listen"),
    ("projects:\n  regions: eu-west\n", "projects.regions"),
    ("projects:\n  regions: [[a]]\n", "projects.regions"),
    ("server: 5\n", "server"),
])
def test_wrong_config_type_exits_2(tmp_path, config_text, key):
    code, output, path = start_expecting_failure(tmp_path, config_text)
    assert code == 2, output
    assert f"'{key}'" in output, output
    assert str(path) in output, output


@pytest.mark.parametrize("config_text", [
    "server: [unclosed\n",
    "- just\n- a list\n",
    "server:\n\tlisten: x\n",
])
def test_malformed_config_file_exits_2(tmp_path, config_text):
    code, output, path = start_expecting_failure(tmp_path, config_text)
    assert code == 2, output
    assert str(path) in output, output


def test_missing_config_file_exits_2(tmp_path):
    missing = tmp_path / "does-not-exist.yaml"
    code, output, _ = start_expecting_failure(tmp_path, args=["--config", str(missing)])
    assert code == 2
    assert str(missing) in output


@pytest.mark.parametrize("env, needle", [
    ({"FALAJ_BODY_LIMIT_BYTES": "big"}, "FALAJ_BODY_LIMIT_BYTES"),
    ({"FALAJ_HEADER_TIMEOUT_SECONDS": "0"}, "server.header_timeout_seconds"),
    ({"FALAJ_IDLE_TIMEOUT_SECONDS": "-5"}, "server.idle_timeout_seconds"),
    ({"FALAJ_TLS_CERT_FILE": "/tmp/only-cert.pem"}, "server.tls.key_file"),
    ({"FALAJ_LOG_LEVEL": "chatty"}, "log.level"),
    ({"FALAJ_REGIONS": " , "}, "projects.regions"),
])
def test_invalid_environment_values_exit_2(tmp_path, env, needle):
    code, output, _ = start_expecting_failure(tmp_path, env=env)
    assert code == 2, output
    assert needle in output, output


@pytest.mark.parametrize("args, needle", [
    (["--set", "no.such.key=1"], "no.such.key"),
    (["--set", "missing-equals"], "missing-equals"),
    (["--set", "server.worker_threads=0"], "server.worker_threads"),
])
def test_invalid_set_flags_exit_2(tmp_path, args, needle):
    code, output, _ = start_expecting_failure(tmp_path, args=args)
    assert code == 2, output
    assert needle in output, output


def _exchange_slowly(server, parts):
    """Sends a request in parts with a short pause between them (a slow but well-behaved
    client), and returns the response."""
    with server.connect(timeout=15) as sock:
        for i, part in enumerate(parts):
            if i:
                time.sleep(0.3)  # the stimulus: a client pausing mid-request, not a wait
            sock.sendall(part)
        return read_http_response(sock, timeout=15)


@pytest.mark.parametrize("key", ["server.header_timeout_seconds", "server.idle_timeout_seconds",
                                 "server.body_timeout_seconds"])
def test_absurd_timeouts_are_refused_or_work(make_server, key):
    """A timeout of ~317 years overflows a nanosecond clock. The server must either refuse the
    value at start-up (exit 2 naming the key) or serve normally, including clients that pause
    mid-request; it must not silently drop connections."""
    server = make_server("huge", args=["--set", f"{key}=10000000000"])
    server.spawn()

    def outcome():
        if server.process.poll() is not None:
            return "exited"
        return "listening" if any(l.get("msg") == "listening" for l in server.log_lines()) \
            else None
    result = wait_until(outcome, 30, message="start-up to finish")
    if result == "exited":
        assert server.process.returncode == 2, server.stderr()
        assert key in server.stderr()
        return
    server.port = int(next(l for l in server.log_lines() if l.get("msg") == "listening")["port"])
    body = b'{"name":"slow-body","region":"eu-west"}'
    cases = {
        "plain request": [b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"],
        "pause after connecting": [b"", b"GET /healthz HTTP/1.1\r\nHost: t\r\n"
                                        b"Connection: close\r\n\r\n"],
        "pause in the headers": [b"GET /healthz HTTP/1.1\r\nHo",
                                 b"st: t\r\nConnection: close\r\n\r\n"],
        "pause before the body": [
            b"POST /api/v1/projects HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            b"Authorization: Bearer " + server.key.encode() + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n", body],
    }
    failures = {}
    for label, parts in cases.items():
        try:
            status = _exchange_slowly(server, parts)["status"]
            if status not in (200, 201):
                failures[label] = status
        except (ConnectionError, OSError) as exc:
            failures[label] = repr(exc)
    assert not failures, f"with {key}=10000000000 the server drops connections: {failures}"
    server.stop_and_check()


def test_config_file_env_and_flags_layer_in_order(make_server, tmp_path):
    """YAML < environment < --set, applied to a real server."""
    server = make_server(
        "layers",
        config={"projects": {"regions": ["yaml-region"]},
                "server": {"body_limit_bytes": 100, "worker_threads": 2}},
        env={"FALAJ_BODY_LIMIT_BYTES": "4096", "FALAJ_REGIONS": "env-a, env-b"},
        args=["--set", "projects.regions=flag-region,env-b"],
    ).start()
    assert server.create_project(unique_name("flag"), "flag-region").status_code == 201
    assert server.create_project(unique_name("envb"), "env-b").status_code == 201
    for region in ("yaml-region", "env-a", "eu-west"):
        response = server.create_project(unique_name("nope"), region)
        assert response.status_code == 400, (region, response.text)
    # The env body limit (4096) overrides the YAML one (100).
    response = server.create_project(unique_name("mid"), "flag-region", description="d" * 2000)
    assert response.status_code == 201, response.text
    assert server.post(PROJECTS, data=b"x" * 5000).status_code == 413
    server.stop_and_check()


def test_config_print_redacts_secrets_and_shows_overrides(tmp_path):
    secrets = {
        "FALAJ_BOOTSTRAP_ADMIN_KEY": "admin-secret-abcdefghijklmnopqrstuvwxyz",
        "FALAJ_METADATA_URI": "sqlite:///tmp/meta-secret-123/falaj.db",
        "FALAJ_BLOB_URI": "file:///tmp/blob-secret-456",
    }
    config = tmp_path / "falaj.yaml"
    config.write_text("server:\n  worker_threads: 7\n  body_limit_bytes: 100\n"
                      "log:\n  level: warn\n")
    env = dict(secrets, FALAJ_BODY_LIMIT_BYTES="12345", FALAJ_REGIONS="me-1, me-2")
    result = run_falaj(["config", "print", "--config", str(config), "--data-dir",
                        str(tmp_path / "d"), "--set", "server.idle_timeout_seconds=42"],
                       env=env, home=tmp_path)
    assert result.returncode == 0, result.stderr
    for value in secrets.values():
        assert value not in result.stdout + result.stderr
    printed = yaml.safe_load(result.stdout)
    assert printed["security"]["bootstrap_admin_key"] == "<redacted>"
    assert printed["storage"]["metadata_uri"] == "<redacted>"
    assert printed["storage"]["blob_uri"] == "<redacted>"
    assert printed["server"]["body_limit_bytes"] == 12345       # env over YAML
    assert printed["server"]["worker_threads"] == 7             # YAML over default
    assert printed["server"]["idle_timeout_seconds"] == 42      # flag
    assert printed["server"]["header_timeout_seconds"] == 10    # default
    assert printed["projects"]["regions"] == ["me-1", "me-2"]
    assert printed["log"]["level"] == "warn"
    assert printed["storage"]["data_dir"] == str(tmp_path / "d")


def test_config_print_defaults(tmp_path):
    result = run_falaj(["config", "print"], home=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    assert printed["projects"]["regions"] == ["uae-north", "uae-central", "eu-west"]
    assert printed["server"]["listen"] == "127.0.0.1:8080"
    # Empty secrets have nothing to hide.
    assert printed["security"]["bootstrap_admin_key"] in ("", None)


def test_config_print_uses_falaj_config_env(tmp_path):
    config = tmp_path / "via-env.yaml"
    config.write_text("server:\n  worker_threads: 9\n")
    result = run_falaj(["config", "print"], env={"FALAJ_CONFIG": str(config)}, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["server"]["worker_threads"] == 9


def test_config_print_rejects_bad_config(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("server:\n  lisen: x\n")
    result = run_falaj(["config", "print", "--config", str(config)], home=tmp_path)
    assert result.returncode == 2
    assert "server.lisen" in result.stderr and str(config) in result.stderr


# ----- TLS -------------------------------------------------------------------------------------------

@pytest.fixture
def tls_server(make_server, tls_files):
    cert, key = tls_files
    server = make_server("tls", ca_file=cert, env={"FALAJ_TLS_CERT_FILE": str(cert),
                                                   "FALAJ_TLS_KEY_FILE": str(key)})
    server.start()
    assert server.tls
    return server


def test_tls_serves_https(tls_server, tls_files):
    cert, _ = tls_files
    response = requests.get(f"https://localhost:{tls_server.port}/healthz", verify=str(cert),
                            timeout=30)
    assert response.status_code == 200
    response = requests.get(f"https://127.0.0.1:{tls_server.port}/healthz", verify=str(cert),
                            timeout=30)
    assert response.status_code == 200
    name = unique_name("tls")
    assert tls_server.create_project(name).status_code == 201
    assert name in tls_server.project_names()
    tls_server.stop_and_check()


def test_tls_rejects_plain_http(tls_server):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{tls_server.port}/healthz", timeout=30)
    # Raw plaintext gets no HTTP answer.
    with tls_server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        data, _ = recv_until_closed(sock, timeout=15)
    assert not data.startswith(b"HTTP/"), data[:100]
    tls_server.assert_healthy()
    tls_server.stop_and_check()


def test_tls_untrusted_certificate_is_refused_by_client(tls_server):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://localhost:{tls_server.port}/healthz", timeout=30)
    tls_server.assert_healthy()


def test_tls_with_missing_certificate_fails_start_up(make_server, tmp_path):
    missing = tmp_path / "nope.crt"
    server = make_server("tls-missing", env={"FALAJ_TLS_CERT_FILE": str(missing),
                                             "FALAJ_TLS_KEY_FILE": str(tmp_path / "nope.key")})
    server.spawn()
    assert server.wait_exit() != 0
    assert str(missing) in server.stderr()
    assert not any(l.get("msg") == "listening" for l in server.log_lines())
