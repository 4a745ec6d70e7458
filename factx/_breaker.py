"""One circuit breaker per endpoint, shared by every worker of a batch, and the waits it
shares: retry backoff and a server's ``Retry-After``. ``_client`` asks it before and tells
it after each request.
"""

from __future__ import annotations

import email.utils
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from ._errors import TransportError

log = logging.getLogger("factx")

# A server's Retry-After is honoured up to this many seconds per wait.
RETRY_AFTER_CAP = 60.0
# How often a worker waiting for an answer or a pause looks at the stop event.
POLL_S = 0.05


def retry_after_of(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (delta or HTTP date), capped at ``RETRY_AFTER_CAP``."""
    import openai

    if not isinstance(exc, openai.APIStatusError):
        return None
    value = exc.response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


class Interrupted(Exception):
    """The batch is stopping: a wait or a call in flight was abandoned."""


class Breaker:
    """One circuit breaker per endpoint, shared by every worker of a batch.

    After ``threshold`` transport failures in a row (any question, any article) the
    breaker opens: nobody sends for ``pauses[0]`` seconds, then one request probes. An
    answer closes it; a failed probe pauses again (``pauses[1]``, …); after
    ``len(pauses)`` failed probes it gives up and every further request fails at once
    with ``TransportError`` (not cached, so a rerun tries again). Each change is told
    once through ``notify``. Waits between retries and a server's ``Retry-After`` are
    shared too: one backoff for all workers, not one per worker.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        threshold: int,
        pauses: tuple[float, ...],
        sleep_for: Callable[[float], None],
        stopped: Callable[[], bool],
        notify: Callable[[str], None] | None = None,
        secret: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._secret = secret
        self.threshold, self.pauses = threshold, pauses
        self._sleep_for, self._stopped = sleep_for, stopped
        self._notify = notify
        self._cond = threading.Condition()
        self._local = threading.local()
        self.reset()

    def reset(self) -> None:
        with self._cond:
            self.state: Literal["closed", "open", "probing", "given_up"] = "closed"
            self.failures = 0  # transport failures in a row
            self.failed_probes = 0
            self.not_before = 0.0  # time.monotonic() before which nobody sends
            self._prober: int | None = None
            self._cause = ""

    def _tell(self, message: str) -> None:
        if self._secret:  # the cause's text may quote the request's key
            message = message.replace(self._secret, "***")
        log.warning("%s", message)
        if self._notify is not None:
            self._notify(message)

    def wait(self, seconds: float = 0.0) -> None:
        """Wait ``seconds`` (a retry's backoff, which every worker then shares), or as long
        as the shared backoff lasts. Raises ``Interrupted`` when the batch stops."""
        with self._cond:
            now = time.monotonic()
            target = max(now + seconds, self.not_before)
            if seconds > 0:
                self.not_before = target
            # A thread that already waited for this point does not wait for it again.
            due = 0.0 if target <= getattr(self._local, "until", 0.0) else target - now
        self._sleep_for(max(seconds, due))
        self._local.until = target

    def before_call(self) -> None:
        """Block while the breaker is open (one thread probes); fail when it gave up."""
        while True:
            self.wait()
            with self._cond:
                if self.state == "given_up":
                    raise TransportError(
                        f"not sent: {self.endpoint} stopped answering (the batch gave it "
                        f"up after {self.failed_probes} failed probes; last: {self._cause})"
                    )
                if self.state == "closed":
                    return
                me = threading.get_ident()
                if self.state == "probing" and self._prober == me:
                    return  # the probe's own retry
                if self.state == "open" and getattr(self._local, "until", 0.0) >= self.not_before:
                    self.state, self._prober = "probing", me
                    return
                if self.state == "probing":
                    self._cond.wait(POLL_S)
            if self._stopped():
                raise Interrupted()

    def record(self, answered: bool | None, cause: BaseException | None = None) -> None:
        """After a request: ``True`` the endpoint answered (whatever it said), ``False`` a
        transport failure, ``None`` nothing was learnt (the call was abandoned)."""
        with self._cond:
            probe = self.state == "probing" and self._prober == threading.get_ident()
            if answered:
                self.failures = 0
                if self.state != "closed":
                    self._tell(f"{self.endpoint} answers again; the batch goes on")
                self.state, self.failed_probes, self._prober = "closed", 0, None
            elif answered is False:
                self.failures += 1
                self._cause = f"{type(cause).__name__}: {short_error(cause)}" if cause else "?"
                hinted = retry_after_of(cause)
                if hinted:
                    self.not_before = max(self.not_before, time.monotonic() + hinted)
                if probe:
                    self.failed_probes += 1
                    self._prober = None
                    if self.failed_probes >= len(self.pauses):
                        self.state = "given_up"
                        self._tell(
                            f"{self.endpoint} still fails after {self.failed_probes} probes "
                            f"(last: {self._cause}); giving up: the remaining articles fail "
                            "without a call (not cached: rerun to try them again)"
                        )
                    else:
                        self.state = "open"
                        pause = self.pauses[self.failed_probes]
                        self.not_before = max(self.not_before, time.monotonic() + pause)
                elif self.state == "closed" and self.failures >= self.threshold:
                    self.state = "open"
                    if not self.pauses:
                        self.state = "given_up"
                    else:
                        self.not_before = max(self.not_before, time.monotonic() + self.pauses[0])
                    self._tell(
                        f"{self.endpoint}: {self.failures} transport failures in a row "
                        f"(last: {self._cause}); pausing the batch for "
                        f"{self.pauses[0] if self.pauses else 0:g} s, then probing "
                        f"(up to {len(self.pauses)} times)"
                    )
            elif probe:
                self.state, self._prober = "open", None  # let another thread probe
            self._cond.notify_all()


_KEYLIKE = re.compile(r"\b(sk-|Bearer\s+)[A-Za-z0-9._*-]{6,}")


def short_error(e: BaseException, limit: int = 200) -> str:
    # Error texts of some endpoints echo part of the key; never pass that on.
    text = _KEYLIKE.sub(r"\1***", " ".join(str(e).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"
