"""A small open-loop load generator that accounts for every request it sends.

Requests leave on a fixed schedule (``rate_rps``) whether or not earlier ones came back,
over Triton's HTTP/REST inference protocol (KServe v2), or to another JSON endpoint
(``path``: vLLM's ``/v1/chat/completions`` in the LLM drill). Every request ends in exactly
one bucket: ``ok``, or a failure kind (``connection`` refused or reset, ``timeout``,
``http_<status>``), so ``sent == ok + failed`` once the generator has stopped. The
fault drill uses it to show what clients saw while Triton was down.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass
class Tally:
    sent: int = 0
    ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    first_failure_at: float | None = None
    last_failure_at: float | None = None

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


class LoadGenerator:
    def __init__(
        self,
        url: str,
        model: str,
        body: Mapping[str, Any],
        *,
        rate_rps: float = 20.0,
        timeout_s: float = 5.0,
        workers: int = 16,
        path: str | None = None,
    ) -> None:
        self.endpoint = f"{url.rstrip('/')}{path or f'/v2/models/{model}/infer'}"
        self.body = dict(body)
        self.interval = 1.0 / rate_rps
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loadgen")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()
        self._tally = Tally()
        self._futures: list[Future[None]] = []

    def _one(self) -> None:
        kind: str | None = None
        try:
            r = requests.post(self.endpoint, json=self.body, timeout=self.timeout_s)
            if r.status_code != 200:
                kind = f"http_{r.status_code}"
        except requests.Timeout:
            kind = "timeout"
        except requests.ConnectionError:
            kind = "connection"
        now = time.monotonic()
        with self._lock:
            if kind is None:
                self._tally.ok += 1
            else:
                self._tally.failures[kind] += 1
                if self._tally.first_failure_at is None:
                    self._tally.first_failure_at = now
                self._tally.last_failure_at = now

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                self._tally.sent += 1
            self._futures.append(self._pool.submit(self._one))
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> LoadGenerator:
        self._thread.start()
        return self

    def stop(self) -> Tally:
        """Stop sending, wait for every request in flight, return the final tally."""
        self._stop.set()
        self._thread.join()
        for future in self._futures:
            future.result()
        self._pool.shutdown(wait=True)
        return self.snapshot()

    def snapshot(self) -> Tally:
        with self._lock:
            t = self._tally
            return Tally(t.sent, t.ok, Counter(t.failures), t.first_failure_at, t.last_failure_at)
