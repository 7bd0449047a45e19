"""Shared harness for the Falaj integration tests.

Every test talks to a real `falaj` process started from FALAJ_BINARY (default: build/falaj of
this checkout) on 127.0.0.1 with port 0. The port is learnt from the "listening" log line;
readiness is polled on /readyz. Nothing sleeps for a fixed time: every wait polls a condition
until a deadline, and the deadlines are generous so that the same suite also passes against the
slower AddressSanitizer + UndefinedBehaviorSanitizer build.

stdout and stderr of the server go to separate files in the test's temporary directory: the
JSON log is on stderr, the one-time "created admin API key" notice on stdout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = REPO_ROOT / "api" / "openapi.yaml"

# Generous: the sanitizer build starts and answers several times slower than Release.
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0

DEFAULT_REGIONS = ("uae-north", "uae-central", "eu-west")

UNLIMITED_RATES = {"FALAJ_RATE_LIMIT_RPS": "0", "FALAJ_AUTH_FAILURES_PER_MINUTE": "0"}

# Reports that a sanitizer (or the C++ runtime) found a bug in the server process.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "terminate called",
    "Segmentation fault",
)


def binary_path() -> Path:
    configured = os.environ.get("FALAJ_BINARY")
    path = Path(configured) if configured else REPO_ROOT / "build" / "falaj"
    return path.resolve()


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.02,
               message: str = "condition") -> Any:
    """Polls `condition` until it returns something truthy; fails the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.1f}s waiting for {message}")
        time.sleep(interval)


def unique_name(prefix: str = "p") -> str:
    """A valid, collision-free project name (a lowercase DNS label)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def base_env(home: Path) -> dict:
    """The environment for a child process: no inherited FALAJ_* settings, a private HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FALAJ_")}
    env["HOME"] = str(home)
    # Sanitizer reports must fail the process loudly rather than be swallowed.
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


def assert_error_shape(response: requests.Response, status: int,
                       code: Optional[str] = None) -> dict:
    """Checks the JSON error contract: {"error": {code, message, request_id}} where request_id
    equals the X-Request-Id header. Returns the inner error object."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers.get("Content-Type", "").startswith("application/json"), \
        response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "request_id"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    if code is not None:
        assert error["code"] == code, error
    request_id = response.headers.get("X-Request-Id")
    assert request_id, response.headers
    assert error["request_id"] == request_id, (error, request_id)
    return error


class FalajServer:
    """One `falaj server` process with its own data directory and log files."""

    def __init__(self, workdir: Path, *, data_dir: Optional[Path] = None,
                 env: Optional[dict] = None, args: Iterable[str] = (),
                 config: Optional[dict | str] = None, listen: str = "127.0.0.1:0",
                 ca_file: Optional[Path] = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.home = self.workdir / "home"
        self.home.mkdir(exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.workdir / "data"
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.listen = listen
        self.config_path: Optional[Path] = None
        if config is not None:
            self.config_path = self.workdir / "falaj.yaml"
            text = config if isinstance(config, str) else _yaml_dump(config)
            self.config_path.write_text(text)
        self.process: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self.grpc_port: Optional[int] = None  # KServe v2 gRPC, from the "listening" line
        self.tls = False
        self.ca_file: Optional[str] = str(ca_file) if ca_file else None
        self.starts = 0
        self.stdout_path = self.stderr_path = None  # type: ignore[assignment]
        self.returncode: Optional[int] = None

    # ----- process control -------------------------------------------------------------------

    def command(self) -> list:
        cmd = [str(binary_path()), "server", "--data-dir", str(self.data_dir),
               "--listen", self.listen]
        if self.config_path is not None:
            cmd += ["--config", str(self.config_path)]
        return cmd + self.args

    def spawn(self) -> subprocess.Popen:
        """Starts the process without waiting for it to listen."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        self.stdout_path = self.workdir / f"stdout.{self.starts}.log"
        self.stderr_path = self.workdir / f"stderr.{self.starts}.log"
        env = base_env(self.home)
        # Most suites hammer one server from one address with one key, and probe it with bad
        # keys on purpose: rate limits would only get in their way. test_rate_limits.py sets
        # its own limits to test them.
        env.update(UNLIMITED_RATES)
        env.update(self.extra_env)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, env=env,
                                            cwd=self.workdir)
        self.port = None
        self.grpc_port = None
        self.returncode = None
        return self.process

    def start(self, timeout: float = READY_TIMEOUT) -> "FalajServer":
        self.spawn()
        deadline = time.monotonic() + timeout

        def listening() -> Optional[dict]:
            for line in self.log_lines():
                if line.get("msg") == "listening":
                    return line
            if self.process.poll() is not None:
                pytest.fail(f"falaj exited with {self.process.returncode} before listening:\n"
                            f"{self.stderr()}\n{self.stdout()}")
            return None

        line = wait_until(listening, timeout, message="the 'listening' log line")
        self.port = int(line["port"])
        self.grpc_port = int(line["grpc_port"]) if line.get("grpc_port") else None
        self.tls = bool(line.get("tls"))

        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"falaj exited with {self.process.returncode}:\n{self.stderr()}")
            try:
                return self.get("/readyz", auth=False, timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, max(1.0, deadline - time.monotonic()), message="/readyz to be 200")
        return self

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        try:
            self.returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"falaj did not exit within {timeout}s:\n{self.stderr()[-4000:]}")
        return self.returncode

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait: the graceful path. Returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop_and_check(self) -> None:
        """Graceful stop that must succeed and leave no sanitizer reports."""
        code = self.stop()
        self.assert_no_sanitizer_reports()
        assert code == 0, f"falaj exited with {code}:\n{self.stderr()[-4000:]}"
        assert "exited cleanly" in self.stderr()

    def assert_no_sanitizer_reports(self) -> None:
        text = self.all_stderr()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, f"server reported '{marker}':\n{text[-8000:]}"

    # ----- logs --------------------------------------------------------------------------------

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path else ""

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path else ""

    def all_stderr(self) -> str:
        return "".join((self.workdir / f"stderr.{i}.log").read_text(errors="replace")
                       for i in range(1, self.starts + 1)
                       if (self.workdir / f"stderr.{i}.log").exists())

    def log_lines(self) -> list:
        """The parsed JSON log lines of the current run (a trailing partial line is skipped)."""
        lines = []
        text = self.stderr()
        for raw in text.splitlines(keepends=True):
            if not raw.endswith("\n"):
                break
            raw = raw.strip()
            if raw.startswith("{"):
                try:
                    lines.append(json.loads(raw))
                except ValueError:
                    pass
        return lines

    def wait_for_log(self, predicate: Callable[[dict], bool], timeout: float = READY_TIMEOUT,
                     message: str = "a log line") -> dict:
        def found():
            for line in self.log_lines():
                if predicate(line):
                    return line
            return None
        return wait_until(found, timeout, message=message)

    # ----- HTTP --------------------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        host = "localhost" if self.tls else "127.0.0.1"
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def key(self) -> str:
        configured = self.extra_env.get("FALAJ_BOOTSTRAP_ADMIN_KEY")
        if configured:
            return configured
        return (self.data_dir / "admin.key").read_text().strip()

    def request(self, method: str, path: str, *, auth: bool | str = True,
                headers: Optional[dict] = None, timeout: float = REQUEST_TIMEOUT,
                **kwargs) -> requests.Response:
        all_headers = dict(headers or {})
        if auth is True:
            all_headers.setdefault("Authorization", f"Bearer {self.key}")
        elif isinstance(auth, str):
            all_headers["Authorization"] = auth
        if self.tls and "verify" not in kwargs:
            kwargs["verify"] = self.ca_file
        return requests.request(method, self.url + path, headers=all_headers, timeout=timeout,
                                **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create_project(self, name: str, region: str = "eu-west", **fields) -> requests.Response:
        return self.post("/api/v1/projects", json={"name": name, "region": region, **fields})

    def project_names(self) -> list:
        response = self.get("/api/v1/projects")
        assert response.status_code == 200, response.text
        return [p["name"] for p in response.json()["projects"]]

    def assert_healthy(self) -> None:
        assert self.running(), f"falaj died:\n{self.stderr()[-4000:]}"
        response = self.get("/healthz", auth=False, timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ok"}

    def metrics_text(self) -> str:
        response = self.get("/metrics", auth=False)
        assert response.status_code == 200
        return response.text

    def connect(self, timeout: float = REQUEST_TIMEOUT) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        sock.settimeout(timeout)
        return sock


def _yaml_dump(data: dict) -> str:
    import yaml
    return yaml.safe_dump(data, sort_keys=False)


# ----- raw HTTP over sockets (for cases `requests` would paper over) ----------------------------

def recv_until_closed(sock: socket.socket, timeout: float = REQUEST_TIMEOUT,
                      limit: int = 1 << 20) -> tuple:
    """Reads until the peer closes (or resets) the connection. Returns (data, closed)."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline and len(data) < limit:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, BrokenPipeError):
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def read_http_response(sock: socket.socket, timeout: float = REQUEST_TIMEOUT) -> dict:
    """Reads one HTTP/1.1 response with a Content-Length body. Returns status, headers
    (lower-case names), body bytes."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a full response head: {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    match = re.match(r"HTTP/1\.[01] (\d{3}) ", lines[0] + " ")
    assert match, f"bad status line {lines[0]!r}"
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-body")
        rest += chunk
    return {"status": int(match.group(1)), "headers": headers, "body": rest[:length],
            "extra": rest[length:]}


def raw_exchange(server: FalajServer, payload: bytes, timeout: float = 10.0) -> tuple:
    """Sends raw bytes on a fresh connection and reads until the server closes it.
    Returns (response bytes, closed-by-server)."""
    with server.connect(timeout) as sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return recv_until_closed(sock, timeout)


def parse_metrics(text: str) -> dict:
    """Prometheus text → {(name, frozenset(labels.items())): value}."""
    samples = {}
    pattern = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
    label_pattern = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = pattern.match(line)
        assert match, f"unparseable metrics line {line!r}"
        labels = frozenset(label_pattern.findall(match.group(3) or ""))
        samples[(match.group(1), labels)] = float(match.group(4))
    return samples


def metric_value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# ----- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def falaj_binary() -> Path:
    path = binary_path()
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"falaj binary not found or not executable at {path}; set FALAJ_BINARY")
    return path


class ServerFactory:
    """Creates servers under one temporary directory and always cleans them up."""

    def __init__(self, root: Path):
        self.root = root
        self.servers: list = []

    def __call__(self, name: str = "server", **kwargs) -> FalajServer:
        server = FalajServer(self.root / f"{name}-{len(self.servers)}", **kwargs)
        self.servers.append(server)
        return server

    def cleanup(self) -> None:
        for server in self.servers:
            if server.running():
                server.kill()


@pytest.fixture
def make_server(falaj_binary, tmp_path):
    """Factory for servers with their own configuration; they are killed after the test if
    still running (tests that care about a graceful exit stop them themselves)."""
    factory = ServerFactory(tmp_path)
    yield factory
    factory.cleanup()
    for server in factory.servers:
        server.assert_no_sanitizer_reports()


@pytest.fixture(scope="module")
def server(falaj_binary, tmp_path_factory):
    """One default server shared by a test module. Tests use unique project names, so they do
    not depend on each other. At the end it must shut down cleanly."""
    instance = FalajServer(tmp_path_factory.mktemp("falaj"))
    instance.start()
    yield instance
    try:
        instance.stop_and_check()
    finally:
        instance.kill()


def make_self_signed_cert(directory: Path) -> tuple:
    """A self-signed certificate for localhost and 127.0.0.1. Returns (cert, key) paths."""
    cert, key = directory / "tls.crt", directory / "tls.key"
    result = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    return cert, key


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> tuple:
    return make_self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def home(tmp_path):
    """A private HOME for CLI runs, so ~/.config/falaj of the machine never leaks in."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def cli(args, home, env=None, timeout=120):
    """Runs the falaj CLI with a private HOME and no inherited FALAJ_* variables."""
    full_env = base_env(home)
    full_env.update(env or {})
    return subprocess.run([str(binary_path())] + [str(a) for a in args], capture_output=True,
                          text=True, env=full_env, timeout=timeout)
