"""Warm render workers behind a bounded queue.

Each worker is a process started with `spawn` (a clean interpreter: the server's threads
and event loop are never forked) that warms up once and then renders job after job. A
request waits for a free worker in a queue of bounded length; when the queue is full it is
refused at once (the caller answers 503 with Retry-After) rather than piling up. A worker
that crashes, or does not answer within the render timeout, is killed and replaced; only
the request it was working on fails.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from .jobs import WorkerConfig, worker_main

WARM_UP_TIMEOUT = 120.0


class QueueFull(Exception):
    """Every worker is busy and the queue holds as many requests as it may."""


class WorkerLost(Exception):
    """The worker crashed or timed out while rendering this request."""


class Worker:
    def __init__(self, config: WorkerConfig, on_restart: Callable[[], None],
                 closing: Callable[[], bool] = lambda: False):
        self.config = config
        self.on_restart = on_restart
        self.closing = closing
        self.process = None
        self.conn = None
        self.ready = False
        self._start()

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, self.config),
                                   name="handouts-render", daemon=True)
        self.process.start()
        child.close()
        self.conn, self.ready = parent, False

    def wait_ready(self, timeout: float = WARM_UP_TIMEOUT) -> None:
        if self.ready:
            return
        try:
            if self.conn.poll(timeout) and self.conn.recv().get("ready"):
                self.ready = True
                return
        except (EOFError, OSError):
            pass
        raise WorkerLost("a render worker could not start")

    def replace(self) -> None:
        self.kill()
        if self.closing():
            return  # the service is stopping: no new worker
        self.on_restart()
        self._start()

    def kill(self) -> None:
        process = self.process
        if process is None or process._popen is None:  # never started
            return
        if process.is_alive():
            process.kill()
        process.join(5)
        if self.conn is not None:
            self.conn.close()

    def call(self, job: dict, timeout: float) -> dict:
        """Send one job and wait for its answer (on a thread: this blocks)."""
        if self.closing():
            raise WorkerLost("the service is stopping")
        if not self.process.is_alive():
            self.replace()  # died while idle: nobody's request is lost
        self.wait_ready()
        try:
            self.conn.send(job)
            if self.conn.poll(timeout):
                return self.conn.recv()
            reason = f"rendering took longer than {timeout:g} s"
        except (EOFError, OSError):
            reason = "the render worker stopped"
        self.replace()
        raise WorkerLost(reason)

    def stop(self, wait: float = 10) -> None:
        """Ask the worker to exit (it removes its temporary folder), then make sure."""
        if self.process is None or self.process._popen is None:
            return
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(wait)
        self.kill()


class Pool:
    def __init__(self, config: WorkerConfig, size: int, queue_limit: int, timeout: float,
                 on_restart: Callable[[], None] = lambda: None):
        self.config, self.size = config, size
        self.queue_limit, self.timeout = queue_limit, timeout
        self.on_restart = on_restart
        self.workers: list[Worker] = []
        self.waiting = 0
        self.ready = False
        self.closed = False
        self._idle: asyncio.Queue[Worker] | None = None
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="render")

    def start(self) -> None:
        """Start the workers; `ready` turns true once every one of them is warm."""
        self._idle = asyncio.Queue()
        self.workers = [Worker(self.config, self.on_restart, lambda: self.closed)
                        for _ in range(self.size)]
        for worker in self.workers:
            self._idle.put_nowait(worker)

        def warm():
            for worker in self.workers:
                try:
                    worker.wait_ready()
                except WorkerLost:
                    return
            self.ready = True

        threading.Thread(target=warm, name="warm-up", daemon=True).start()

    async def run(self, job: dict) -> dict:
        assert self._idle is not None, "the pool is not started"
        if self._idle.empty() and self.waiting >= self.queue_limit:
            raise QueueFull()
        self.waiting += 1
        try:
            worker = await self._idle.get()
        finally:
            self.waiting -= 1
        loop = asyncio.get_running_loop()
        # The worker goes back to the idle queue when its job has ended, even if the
        # client went away meanwhile (then the answer is dropped).
        future = self._executor.submit(worker.call, job, self.timeout)
        future.add_done_callback(
            lambda _: loop.call_soon_threadsafe(self._idle.put_nowait, worker))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop every worker (idle ones exit at once, busy ones are killed: by now their
        time is up) and remove the temporary folders of any that did not exit cleanly.
        Safe to call twice."""
        if self.closed:
            return
        self.ready, self.closed = False, True
        for worker in self.workers:
            worker.stop(wait=2)
        self._executor.shutdown(wait=False, cancel_futures=True)
        from ..pdf import scratch

        claimed = scratch._claimed.get("folder")
        base = Path(claimed).parent if claimed else Path(tempfile.gettempdir())
        try:
            scratch.remove_stale(base)
        except OSError:
            pass
