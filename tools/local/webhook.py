"""A webhook receiver that records what Alertmanager delivers, for the local stack and tests.

Alertmanager posts each notification as JSON (its webhook format: ``receiver``,
``status``, ``alerts`` with ``labels``, ``annotations``, ``startsAt``, ``endsAt``)
to ``http://<host>:<port>/<receiver>``. The recorder keeps every notification in
memory and, when given a path, appends it to a JSON Lines file so that a person
running ``make local`` can ``tail -f`` it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Notification:
    path: str
    """The request path: ``/<receiver>``."""
    received_at: float
    payload: dict[str, Any]

    @property
    def receiver(self) -> str:
        return str(self.payload.get("receiver", self.path.strip("/")))

    @property
    def status(self) -> str:
        return str(self.payload.get("status", ""))

    def alertnames(self) -> set[str]:
        return {a["labels"].get("alertname", "") for a in self.payload.get("alerts", [])}


class WebhookRecorder:
    """An HTTP server on loopback (free port by default) recording notifications."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, log: Path | None = None) -> None:
        self._notifications: list[Notification] = []
        self._lock = threading.Condition()
        self._log = log
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                try:
                    payload = json.loads(body or b"{}")
                except json.JSONDecodeError:
                    self.send_response(400)
                    self.end_headers()
                    return
                recorder._record(Notification(self.path, time.time(), payload))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> WebhookRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, notification: Notification) -> None:
        with self._lock:
            self._notifications.append(notification)
            if self._log is not None:
                self._log.parent.mkdir(parents=True, exist_ok=True)
                with self._log.open("a") as f:
                    f.write(json.dumps({"path": notification.path, **notification.payload}) + "\n")
            self._lock.notify_all()

    def notifications(self) -> list[Notification]:
        with self._lock:
            return list(self._notifications)

    def wait_for(
        self, predicate: Callable[[Notification], bool], timeout_s: float
    ) -> Notification | None:
        """The first notification (past or future) matching ``predicate``, or None on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                for n in self._notifications:
                    if predicate(n):
                        return n
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._lock.wait(remaining)

    def __enter__(self) -> WebhookRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
