"""Start the real service (`handouts serve`) on a free port for the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

KEY = "test-key-4c1e9a77d2b54f0e"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    cache: Path
    key: str | None

    def client(self, key: str | None = "default", **kwargs) -> httpx.Client:
        key = self.key if key == "default" else key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def worker_pids(self) -> list[int]:
        """The render workers: spawned children of the server process."""
        pids = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"spawn_main" in cmdline:
                    pids.append(int(child))
        return sorted(pids)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(folder: Path, *args: str, key: str | None = None,
                 library: Path | None = None, env: dict | None = None) -> Server:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [sys.executable, "-m", "handoutkit", *(["--library", str(library)] if library else []),
           "serve", "--port", str(port), *args]
    env = dict(os.environ, SOURCE_DATE_EPOCH="1795651200",
               HANDOUTS_CACHE_DIR=str(folder / "cache"), **(env or {}))
    env.pop("HANDOUTS_LIBRARY", None)
    env.pop("HANDOUTS_API_KEYS", None)
    if key:
        keys = folder / "keys"
        keys.write_text(f"# keys of the tests\n{key}\nsecond-key-0000-abcd\n")
        cmd += ["--api-keys", str(keys)]
    log = folder / "server.log"
    process = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env,
                               cwd=folder)
    server = Server(f"http://127.0.0.1:{port}", process, log, folder / "cache", key)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped:\n{server.log_text()}")
        try:
            if httpx.get(server.url + "/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the server did not get ready:\n{server.log_text()}")
