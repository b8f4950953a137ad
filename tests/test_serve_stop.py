"""`handouts serve` on the loopback address against slow clients (issue 23, case 5) and
stopped with SIGTERM while renders longer than 10 s are in flight (case 6)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from servers import start_server


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def connect(server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def closed_within(sock: socket.socket, seconds: float, trickle: bytes) -> tuple[bool, bytes]:
    """Send `trickle` a byte at a time until the server closes; whether it did in time,
    and what it answered."""
    deadline = time.monotonic() + seconds
    answer = b""
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            sock.sendall(trickle[:1])
            trickle = trickle[1:] or b"x"
        except OSError:
            return True, answer
        try:
            data = sock.recv(4096)
            if not data:
                return True, answer
            answer += data
        except socket.timeout:
            pass
        except OSError:
            return True, answer
    return False, answer


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """A read timeout of 1 s."""
    srv = start_server(tmp_path_factory.mktemp("slow"), "--workers", "1", "--read-timeout",
                       "1")
    yield srv
    srv.stop()


def test_5_trickling_headers_are_cut_off(quick):
    socks = [connect(quick) for _ in range(20)]
    for sock in socks:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    start = time.monotonic()
    results = [closed_within(sock, 6, b"X-Slow: " + b"a" * 200) for sock in socks]
    assert all(closed for closed, _ in results), results
    assert time.monotonic() - start < 8
    with httpx.Client(base_url=quick.url) as client:  # others are still served
        assert client.get("/healthz").status_code == 200


def test_5_trickling_bodies_are_cut_off(quick):
    sock = connect(quick)
    sock.sendall(b"POST /v1/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{")
    start = time.monotonic()
    closed, answer = closed_within(sock, 6, b" " * 4000)
    assert closed and time.monotonic() - start < 5
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_5_keep_alive_requests_get_a_deadline_too(quick):
    sock = connect(quick)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    time.sleep(0.2)
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next request, trickled
    closed, _ = closed_within(sock, 6, b"X-Slow: " + b"a" * 200)
    assert closed


def test_4_an_announced_big_form_is_refused_unread(quick):
    sock = connect(quick)
    sock.sendall(b"POST /signin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/x-www-form-urlencoded\r\n"
                 b"Content-Length: 263000000\r\n\r\nkey=")
    sock.settimeout(5)
    assert sock.recv(4096).startswith(b"HTTP/1.1 413")


# -- 6. SIGTERM while renders longer than 10 s are in flight ---------------------------------

def slow_server(folder: Path):
    tmp = folder / "tmp"
    tmp.mkdir(parents=True)
    srv = start_server(folder, "--workers", "2", "--timeout", "30",
                       env={"HANDOUTS_TEST_RENDER_DELAY": "11", "TMPDIR": str(tmp)})
    return srv, tmp


def post_in_thread(server, results, index):
    def post():
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                results[index] = client.post("/v1/documents",
                                             json={"specs": ["ocd"], "format": "html"})
        except Exception as exc:  # noqa: BLE001 - reported by the test
            results[index] = exc
    thread = threading.Thread(target=post)
    thread.start()
    return thread


def test_6_sigterm_lets_renders_in_flight_finish(tmp_path):
    server, tmp = slow_server(tmp_path)
    workers = server.worker_pids()
    assert len(workers) == 2
    results = [None, None]
    threads = [post_in_thread(server, results, i) for i in range(2)]
    time.sleep(1.5)  # both are rendering
    assert len(list(tmp.glob("handouts-*"))) >= 2  # the workers' own folders
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    try:  # new work is refused: 503, or no connection at all
        late = httpx.post(server.url + "/v1/documents", json={"specs": ["ocd"]}, timeout=5)
        assert late.status_code == 503 and late.headers["retry-after"]
    except httpx.TransportError:
        pass
    for thread in threads:
        thread.join(60)
    assert all(isinstance(r, httpx.Response) for r in results), results
    assert [r.status_code for r in results] == [200, 200], [r.text[:200] for r in results]
    assert all("Obsessive" in r.text for r in results)
    assert server.process.wait(30) == 0
    assert time.monotonic() - started >= 9  # the renders were let finish
    assert not any(alive(pid) for pid in workers)
    assert list(tmp.glob("handouts-*")) == []
    log = server.log_text()
    assert "Traceback" not in log and "AssertionError" not in log


def test_6_a_second_sigterm_stops_at_once(tmp_path):
    server, tmp = slow_server(tmp_path)
    workers = server.worker_pids()
    results = [None]
    thread = post_in_thread(server, results, 0)
    time.sleep(1.5)
    assert list(tmp.glob("handouts-*"))
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(20) == 0
    assert time.monotonic() - started < 9
    thread.join(30)
    assert not any(alive(pid) for pid in workers)
    assert list(tmp.glob("handouts-*")) == []
    assert "AssertionError" not in server.log_text()
