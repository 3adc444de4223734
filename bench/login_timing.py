"""Does a failed login take as long for an unknown address as for a wrong password? Prints the medians.

Run: .venv/bin/python bench/login_timing.py
Real argon2id at OWASP parameters, on a throwaway SQLite database with mail to a throwaway outbox.
"""

from __future__ import annotations

import contextlib
import email
import statistics
import tempfile
import time
from email import policy
from pathlib import Path

from adapters.persistence.migrate import upgrade
from core.services.accounts import LoginFailed
from coursesignal.container import create_container
from coursesignal.settings import Settings

PASSWORD = "five quiet lanterns drifting"  # noqa: S105 - a throwaway account in a throwaway database
ROUNDS = 40


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="coursesignal-bench-"))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'bench.db'}",
        redis_url=None,
        base_url="http://bench.invalid",
        instance_path=folder,
        environment="test",
        secret_key="bench",  # noqa: S106 - signs nothing that outlives the run
    )
    container = create_container(settings)
    upgrade(container.gateways.engine())
    accounts = container.services.accounts()
    accounts.signup("known@example.com", PASSWORD)
    message = email.message_from_bytes(next(settings.outbox_path.glob("*.eml")).read_bytes(), policy=policy.default)
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    token = next(line for line in body.splitlines() if "/verify/" in line).rsplit("/", 1)[1].strip()
    accounts.verify_email(token)

    cases = {
        "unknown address": ("nobody@example.com", "wrong password!"),
        "wrong password": ("known@example.com", "wrong password!"),
        "right password": ("known@example.com", PASSWORD),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    # Interleaved, so a busy machine slows every case alike instead of whichever ran during the spike.
    for round_number in range(ROUNDS):
        names = list(cases)
        shift = round_number % len(names)  # each case takes each position in turn
        for name in names[shift:] + names[:shift]:
            address, password = cases[name]
            started = time.perf_counter()
            with contextlib.suppress(LoginFailed):
                accounts.login(address, password)
            samples[name].append((time.perf_counter() - started) * 1000)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(f"login, {name + ':':16} median {value:.1f} ms over {ROUNDS}")
    gap = abs(medians["unknown address"] - medians["wrong password"]) / medians["wrong password"] * 100
    print(f"unknown address vs wrong password: {gap:.1f}% apart")
    container.gateways.engine().dispose()


if __name__ == "__main__":
    main()
