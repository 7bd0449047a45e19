"""Hostile and malformed input: bad JSON, oversized bodies and headers, broken HTTP, slow
clients, idle connections and concurrency. After every hostile case the server must still
answer /healthz."""

import json
import socket
import threading
import time

import pytest

from conftest import (FalajServer, assert_error_shape, raw_exchange, read_http_response,
                      recv_until_closed, unique_name)

PROJECTS = "/api/v1/projects"
BODY_LIMIT = 1024
HEADER_TIMEOUT = 1
IDLE_TIMEOUT = 2


@pytest.fixture(scope="module")
def hostile(falaj_binary, tmp_path_factory):
    """A server with a small body limit and short header and idle timeouts, one I/O thread
    (so a stuck client would block everyone if the server were not asynchronous)."""
    instance = FalajServer(tmp_path_factory.mktemp("hostile"), env={
        "FALAJ_BODY_LIMIT_BYTES": str(BODY_LIMIT),
        "FALAJ_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "FALAJ_IDLE_TIMEOUT_SECONDS": str(IDLE_TIMEOUT),
        "FALAJ_IO_THREADS": "1",
    })
    instance.start()
    yield instance
    try:
        instance.stop_and_check()
    finally:
        instance.kill()


def auth_header(server) -> bytes:
    return f"Authorization: Bearer {server.key}\r\n".encode()


def assert_raw_error(data: bytes, status: int, code: str):
    """A raw HTTP response carrying a JSON error with a matching request id."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} "), data[:300]
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    assert headers["content-type"].startswith("application/json")
    length = int(headers["content-length"])
    error = json.loads(body[:length])["error"]
    assert error["code"] == code
    assert error["request_id"] == headers["x-request-id"]
    return headers, error


# ----- malformed JSON ------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"",
    b" ",
    b"{",
    b'{"name":',
    b'{"name":"trunc-1","region":"eu-west"',
    b'{"name":"trunc-2","region":"eu-',
    b"[]",
    b'["name", "region"]',
    b'"x"',
    b"1",
    b"null",
    b"true",
    b'{"name":"trail-1","region":"eu-west"} garbage',
    b'{"name":"trail-2","region":"eu-west"}{}',
    b"{'name':'single-quotes','region':'eu-west'}",
    b'{name:"bare-keys",region:"eu-west"}',
    b'{"name":"comma-1","region":"eu-west",}',
    b'{"name":"bad-\xff\xfe-utf8","region":"eu-west"}',
    b'{"name":"overlong-\xc0\xaf","region":"eu-west"}',
    b'{"\xff":"bad key"}',
    b'{"name":"lone-\\ud800","region":"eu-west"}',
    b'{"name":"ctl-\x01-char","region":"eu-west"}',
    b'{"name":"nul-\x00-byte","region":"eu-west"}',
    b"\x00\x00\x00\x00",
    b"\xff\xfe{\x00}\x00",
])
def test_malformed_json_is_400(hostile, body):
    response = hostile.post(PROJECTS, data=body, headers={"Content-Type": "application/json"})
    assert_error_shape(response, 400, "INVALID_ARGUMENT")
    hostile.assert_healthy()


@pytest.mark.parametrize("body", [
    b'{"name":1e999999,"region":"eu-west"}',
    b'{"name":"num-ovf","region":"eu-west","description":-1e400}',
    b'{"name":"num-ovf-2","region":"eu-west","labels":{"a":1e309}}',
])
def test_out_of_range_numbers_are_400_not_500(hostile, body):
    """Numbers that do not fit a double are malformed client input, not an internal error."""
    response = hostile.post(PROJECTS, data=body, headers={"Content-Type": "application/json"})
    assert_error_shape(response, 400, "INVALID_ARGUMENT")
    hostile.assert_healthy()


def test_out_of_range_number_in_patch_is_400(hostile):
    name = unique_name("patchnum")
    assert hostile.create_project(name).status_code == 201
    response = hostile.patch(f"{PROJECTS}/{name}", data=b'{"description":1e999}',
                             headers={"Content-Type": "application/json"})
    assert_error_shape(response, 400, "INVALID_ARGUMENT")
    hostile.assert_healthy()


@pytest.mark.parametrize("body", [
    b"{",
    b"[]",
    b'{"name":"x"',
    b'{"description":"\xff"}',
])
def test_malformed_patch_body_is_400(hostile, body):
    name = unique_name("patchbad")
    created = hostile.create_project(name, description="keep")
    assert created.status_code == 201
    assert_error_shape(hostile.patch(f"{PROJECTS}/{name}", data=body), 400, "INVALID_ARGUMENT")
    assert hostile.get(f"{PROJECTS}/{name}").json() == created.json()


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deeply_nested_json_does_not_crash(server, depth):
    """Deep nesting must not overflow the stack of the parser or of the destructor."""
    nested_arrays = b"[" * depth + b"]" * depth
    assert_error_shape(server.post(PROJECTS, data=nested_arrays), 400, "INVALID_ARGUMENT")
    nested_objects = b'{"a":' * depth + b"1" + b"}" * depth
    assert_error_shape(server.post(PROJECTS, data=nested_objects), 400, "INVALID_ARGUMENT")
    unclosed = b"[" * depth
    assert_error_shape(server.post(PROJECTS, data=unclosed), 400, "INVALID_ARGUMENT")
    server.assert_healthy()


# ----- body limit ----------------------------------------------------------------------------------

def padded_project(name: str, size: int) -> bytes:
    """A valid create body of exactly `size` bytes."""
    base = json.dumps({"name": name, "region": "eu-west", "description": ""}).encode()
    body = json.dumps({"name": name, "region": "eu-west",
                       "description": "d" * (size - len(base))}).encode()
    assert len(body) == size
    return body


def test_body_at_the_limit_is_accepted(hostile):
    name = unique_name("limit")
    response = hostile.post(PROJECTS, data=padded_project(name, BODY_LIMIT),
                            headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert name in hostile.project_names()


def test_body_over_the_limit_is_413(hostile):
    name = unique_name("over")
    response = hostile.post(PROJECTS, data=padded_project(name, 2 * BODY_LIMIT),
                            headers={"Content-Type": "application/json"})
    error = assert_error_shape(response, 413, "PAYLOAD_TOO_LARGE")
    assert str(BODY_LIMIT) in error["message"]
    assert name not in hostile.project_names()
    hostile.assert_healthy()


def test_body_one_byte_over_the_limit_is_413(hostile):
    response = hostile.post(PROJECTS, data=padded_project(unique_name("over1"), BODY_LIMIT + 1))
    assert_error_shape(response, 413, "PAYLOAD_TOO_LARGE")


def test_large_announced_body_is_refused_before_it_is_sent(hostile):
    """Content-Length far above the limit: the 413 comes right after the headers, without the
    server waiting for (or buffering) the body."""
    with hostile.connect() as sock:
        sock.sendall(b"POST /api/v1/projects HTTP/1.1\r\nHost: t\r\n" + auth_header(hostile) +
                     b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
        response = read_http_response(sock, timeout=10)
        assert response["status"] == 413
        assert response["headers"]["connection"].lower() == "close"
        error = json.loads(response["body"])["error"]
        assert error["code"] == "PAYLOAD_TOO_LARGE"
        assert error["request_id"] == response["headers"]["x-request-id"]
        # The client keeps streaming; the server drains for a while and then closes.
        try:
            for _ in range(64):
                sock.sendall(b"x" * 4096)
        except (BrokenPipeError, ConnectionResetError):
            pass
        _, closed = recv_until_closed(sock, timeout=20)
        assert closed
    hostile.assert_healthy()


def test_streamed_body_without_announced_length_over_limit_is_413(hostile):
    """A chunked body is only found to be too large while it streams in."""
    chunk = b'{"name":"chunky","region":"eu-west","description":"' + b"d" * 600
    with hostile.connect() as sock:
        sock.sendall(b"POST /api/v1/projects HTTP/1.1\r\nHost: t\r\n" + auth_header(hostile) +
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(4):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        data, _ = recv_until_closed(sock, timeout=20)
    assert_raw_error(data, 413, "PAYLOAD_TOO_LARGE")
    assert "chunky" not in hostile.project_names()
    hostile.assert_healthy()


def test_413_echoes_client_request_id(hostile):
    """Every answer echoes a safe client X-Request-Id, including a refusal of the body."""
    response = hostile.post(PROJECTS, data=b"x" * (2 * BODY_LIMIT),
                            headers={"X-Request-Id": "big-body-1"})
    error = assert_error_shape(response, 413, "PAYLOAD_TOO_LARGE")
    assert response.headers["X-Request-Id"] == "big-body-1"
    assert error["request_id"] == "big-body-1"


def test_chunked_body_within_the_limit_works(hostile):
    name = unique_name("chunked")
    body = json.dumps({"name": name, "region": "eu-west"}).encode()
    with hostile.connect() as sock:
        sock.sendall(b"POST /api/v1/projects HTTP/1.1\r\nHost: t\r\n" + auth_header(hostile) +
                     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for part in (body[:10], body[10:]):
            sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        response = read_http_response(sock)
    assert response["status"] == 201, response
    assert json.loads(response["body"])["name"] == name


# ----- routing -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/",
    "/nope",
    "/api",
    "/api/v1",
    "/api/v2/projects",
    "/api/v1/projects/x/y",
    "/api/v1/projects/",
    "/healthz/",
    "/HEALTHZ",
    "/api/v1/openapi.json",
    "//api/v1/projects",
])
def test_unknown_route_is_404(hostile, path):
    with hostile.connect() as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n".encode() +
                     auth_header(hostile) + b"\r\n")
        data, _ = recv_until_closed(sock)
    assert_raw_error(data, 404, "NOT_FOUND")
    hostile.assert_healthy()


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/healthz", {"GET"}),
    ("POST", "/readyz", {"GET"}),
    ("PUT", "/metrics", {"GET"}),
    ("PUT", "/api/v1/projects", {"GET", "POST"}),
    ("DELETE", "/api/v1/projects", {"GET", "POST"}),
    ("POST", "/api/v1/projects/some-project", {"GET", "PATCH", "DELETE"}),
    ("PUT", "/api/v1/projects/some-project", {"GET", "PATCH", "DELETE"}),
])
def test_wrong_method_is_405_with_allow(hostile, method, path, allowed):
    response = hostile.request(method, path)
    error = assert_error_shape(response, 405, "METHOD_NOT_ALLOWED")
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
    assert method in error["message"]


def test_unknown_method_is_refused(hostile):
    data, _ = raw_exchange(hostile, b"BREW /healthz HTTP/1.1\r\nHost: t\r\nConnection: close"
                                    b"\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 ") or data.startswith(b"HTTP/1.1 405 "), data[:200]
    hostile.assert_healthy()


# ----- broken HTTP -----------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /healthz\r\n\r\n",
    b"GET /healthz HTTP/9.9\r\nHost: t\r\n\r\n",
    b"GET /healthz HTTX/1.1\r\nHost: t\r\n\r\n",
    b"GET  /healthz  HTTP/1.1\r\nHost: t\r\n\r\n",
    b"\x00\x01\x02\x03\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello
    b"GET /healthz HTTP/1.1\r\nHost t\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\n: empty-name\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nBad Header: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"POST /api/v1/projects HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /api/v1/projects HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"ffffffffffffffffffff\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: t\r\n\x01\x02: \x03\r\n\r\n",
    b"GET /he\x00althz HTTP/1.1\r\nHost: t\r\n\r\n",
    b"\r\n\r\n\r\n\r\n",
    b"GET /healthz HTTP/1.1\nHost: t\n\n",
])
def test_malformed_http_gets_400_or_close(hostile, payload):
    data, closed = raw_exchange(hostile, payload, timeout=15)
    # The answer, if any, is a well-formed JSON 400, and the connection ends.
    if data:
        assert_raw_error(data, 400, "INVALID_ARGUMENT")
    assert closed, "the server must close the connection after a malformed request"
    hostile.assert_healthy()


def test_bad_request_line_is_answered_with_json_400(hostile):
    data, closed = raw_exchange(hostile, b"GARBAGE\r\n\r\n")
    headers, error = assert_raw_error(data, 400, "INVALID_ARGUMENT")
    assert "malformed" in error["message"]
    assert headers["connection"].lower() == "close"
    assert closed


@pytest.mark.parametrize("header_bytes", [17 * 1024, 64 * 1024, 1024 * 1024])
def test_very_long_header_is_413_or_close(hostile, header_bytes):
    payload = (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Long: " + b"a" * header_bytes +
               b"\r\n\r\n")
    data, closed = raw_exchange(hostile, payload, timeout=15)
    if data:
        assert_raw_error(data, 413, "PAYLOAD_TOO_LARGE")
    assert closed
    hostile.assert_healthy()


def test_many_headers_over_the_limit_is_413_or_close(hostile):
    headers = b"".join(f"X-H{i}: {'v' * 20}\r\n".encode() for i in range(2000))
    data, closed = raw_exchange(hostile, b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + headers +
                                b"\r\n", timeout=15)
    if data:
        assert_raw_error(data, 413, "PAYLOAD_TOO_LARGE")
    assert closed
    hostile.assert_healthy()


def test_very_long_url_is_refused(hostile):
    data, closed = raw_exchange(hostile, b"GET /" + b"a" * (32 * 1024) +
                                b" HTTP/1.1\r\nHost: t\r\n\r\n", timeout=15)
    if data:
        assert data.startswith(b"HTTP/1.1 413 ") or data.startswith(b"HTTP/1.1 414 ") or \
            data.startswith(b"HTTP/1.1 400 "), data[:200]
    assert closed
    hostile.assert_healthy()


def test_header_just_under_the_limit_is_served(hostile):
    response = hostile.get("/healthz", auth=False, headers={"X-Pad": "p" * (12 * 1024)})
    assert response.status_code == 200


def test_pipelined_requests_are_answered_in_order(hostile):
    requests_bytes = b"".join(
        f"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: pipe-{i}\r\n\r\n".encode()
        for i in range(5))
    with hostile.connect() as sock:
        sock.sendall(requests_bytes)
        leftover = b""
        for i in range(5):
            # read_http_response reads from the socket; feed it any bytes read ahead.
            response = _read_with_leftover(sock, leftover)
            leftover = response["extra"]
            assert response["status"] == 200
            assert response["headers"]["x-request-id"] == f"pipe-{i}"


def _read_with_leftover(sock, leftover):
    class Prefixed:
        def __init__(self):
            self.buffer = leftover

        def recv(self, n):
            if self.buffer:
                data, self.buffer = self.buffer, b""
                return data
            return sock.recv(n)

        def settimeout(self, t):
            sock.settimeout(t)

    return read_http_response(Prefixed())


# ----- slow and idle clients ---------------------------------------------------------------------

def test_slow_headers_are_cut_off_while_others_are_served(hostile):
    """A slowloris client drips its headers; after the header timeout the server drops it
    without an answer. During that time, other clients are served normally."""
    slow = hostile.connect(timeout=30)
    request = (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n")
    result = {}

    def drip():
        start = time.monotonic()
        received = b""
        try:
            for i, byte in enumerate(request):
                slow.sendall(bytes([byte]))
                # Poll for the server's reaction between bytes instead of sleeping blindly.
                slow.settimeout(0.1)
                try:
                    chunk = slow.recv(4096)
                    if not chunk:
                        result["closed_after"] = time.monotonic() - start
                        break
                    received += chunk
                except socket.timeout:
                    pass
                if time.monotonic() - start > 30:
                    break
        except (BrokenPipeError, ConnectionResetError):
            result["closed_after"] = time.monotonic() - start
        result["received"] = received
        result["sent_all"] = "closed_after" not in result

    started = time.monotonic()
    dripper = threading.Thread(target=drip)
    dripper.start()
    served_while_slow = 0
    try:
        # While the slow client is still connected, a normal client gets answers.
        while dripper.is_alive() and time.monotonic() - started < 30:
            response = hostile.get("/healthz", auth=False, timeout=5)
            assert response.status_code == 200
            if dripper.is_alive():
                served_while_slow += 1
            if served_while_slow >= 5:
                break
        dripper.join(timeout=40)
    finally:
        slow.close()
    assert not dripper.is_alive()
    assert served_while_slow >= 5, "normal clients were not served while a slow one was open"
    assert "closed_after" in result, "the slow client was never disconnected"
    # Dropped after about the header timeout: not before, and not much later.
    assert HEADER_TIMEOUT * 0.8 <= result["closed_after"] <= HEADER_TIMEOUT + 10, result
    assert result["received"] == b"", "a timed-out client gets no response"
    hostile.assert_healthy()


def test_idle_keep_alive_connection_is_closed(hostile):
    with hostile.connect(timeout=30) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        response = read_http_response(sock)
        assert response["status"] == 200
        answered = time.monotonic()
        # The same connection is reusable right away.
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_http_response(sock)["status"] == 200
        answered = time.monotonic()
        data, closed = recv_until_closed(sock, timeout=IDLE_TIMEOUT + 20)
        idle_for = time.monotonic() - answered
    assert closed and data == b""
    assert IDLE_TIMEOUT * 0.5 <= idle_for <= IDLE_TIMEOUT + 10, idle_for
    hostile.assert_healthy()


def test_many_idle_connections_do_not_block_service(hostile):
    sockets = [hostile.connect() for _ in range(50)]
    try:
        for sock in sockets[::2]:
            sock.sendall(b"GET /heal")  # half a request line
        for _ in range(5):
            assert hostile.get("/healthz", auth=False, timeout=5).status_code == 200
    finally:
        for sock in sockets:
            sock.close()
    hostile.assert_healthy()


def test_client_disconnecting_mid_request_is_harmless(hostile):
    for payload in (b"POST /api/v1/projects HTTP/1.1\r\nHost: t\r\nContent-Length: 500\r\n" +
                    auth_header(hostile) + b"\r\n{\"name\":",
                    b"GET /healthz HTTP/1.1\r\nHo",
                    b"GET /api/v1/projects HTTP/1.1\r\nHost: t\r\n" + auth_header(hostile) +
                    b"\r\n"):
        for _ in range(10):
            sock = hostile.connect()
            sock.sendall(payload)
            # RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()
    hostile.assert_healthy()


# ----- concurrency -----------------------------------------------------------------------------------

def test_concurrent_creations_with_distinct_names_all_succeed(hostile):
    threads, per_thread = 20, 25
    prefix = unique_name("conc")
    statuses = {}
    errors = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def worker(index):
        try:
            barrier.wait(timeout=30)
            for j in range(per_thread):
                name = f"{prefix}-{index}-{j}"
                response = hostile.create_project(name, "uae-north",
                                                  labels={"thread": str(index)})
                with lock:
                    statuses[name] = (response.status_code, response.text[:200])
        except Exception as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(repr(exc))

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in pool)
    assert not errors, errors[:5]
    assert len(statuses) == threads * per_thread
    failed = {n: s for n, s in statuses.items() if s[0] != 201}
    assert not failed, list(failed.items())[:5]
    listed = [n for n in hostile.project_names() if n.startswith(prefix + "-")]
    assert sorted(listed) == sorted(statuses)
    hostile.assert_healthy()


def test_concurrent_creations_of_the_same_name_one_wins(hostile):
    threads = 20
    name = unique_name("race")
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def worker(index):
        barrier.wait(timeout=30)
        response = hostile.create_project(name, "eu-west", description=f"writer {index}")
        with lock:
            results.append((response.status_code, response))

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert len(results) == threads
    codes = sorted(code for code, _ in results)
    assert codes.count(201) == 1, codes
    assert codes.count(409) == threads - 1, codes
    for code, response in results:
        if code == 409:
            assert_error_shape(response, 409, "ALREADY_EXISTS")
    winner = next(r for c, r in results if c == 201).json()
    assert hostile.get(f"{PROJECTS}/{name}").json() == winner
    assert hostile.project_names().count(name) == 1


def test_concurrent_create_and_delete_same_name_stays_consistent(hostile):
    name = unique_name("flip")
    stop = time.monotonic() + 1.5
    bad = []

    def creator():
        while time.monotonic() < stop:
            code = hostile.create_project(name).status_code
            if code not in (201, 409):
                bad.append(("create", code))

    def deleter():
        while time.monotonic() < stop:
            code = hostile.delete(f"{PROJECTS}/{name}").status_code
            if code not in (204, 404):
                bad.append(("delete", code))

    pool = [threading.Thread(target=f) for f in (creator, creator, deleter, deleter)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert not bad, bad[:5]
    assert hostile.project_names().count(name) in (0, 1)
    hostile.assert_healthy()
