"""The lifecycle every local fake platform shares: serve on 127.0.0.1 from a background thread, as a
context manager in tests or in the foreground for `python -m tests.fakes.<platform>`."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from http.server import HTTPServer
from typing import Self


class BackgroundServer(ABC):
    """Subclasses say how to build their HTTP server; this class starts, stops and addresses it."""

    thread_name = "fake-server"

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @abstractmethod
    def _make_server(self, address: tuple[str, int]) -> HTTPServer:
        """The fake's own HTTP server, bound to `address`."""

    def start(self) -> Self:
        """Bind and serve in a background thread (idempotent)."""
        if self._server is None:
            self._server = self._make_server(self._address)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block serving requests until interrupted."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"
