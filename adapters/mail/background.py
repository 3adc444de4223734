"""Hands each message to a background thread, so a request never waits on (or is timed by) the SMTP server.

Without this, "reset my password" would answer measurably slower for an address that has an account (a
message goes out) than for one that has none, telling a stranger which addresses are customers. Failures
are logged; a message still queued when the process stops is lost, like any in-process job.
"""

from __future__ import annotations

import logging
import queue
import threading

from core.ports.mailer import Mail, Mailer, MailError

log = logging.getLogger(__name__)
_STOP = None


class BackgroundMailer:
    def __init__(self, inner: Mailer) -> None:
        self._inner = inner
        self._queue: queue.Queue[Mail | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, mail: Mail) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._deliver, name="coursesignal-mail", daemon=True)
                self._thread.start()
        self._queue.put(mail)

    def _deliver(self) -> None:
        while True:
            mail = self._queue.get()
            try:
                if mail is _STOP:
                    return
                self._inner.send(mail)
            except MailError:
                log.warning("mail to %s: %r was not delivered (details above)", mail.to, mail.subject)
            except Exception:
                log.exception("mail to %s: %r failed unexpectedly", mail.to, mail.subject)
            finally:
                self._queue.task_done()

    def wait_until_sent(self) -> None:
        """Block until every queued message has been handed over (tests, and a clean shutdown)."""
        self._queue.join()

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=10)
