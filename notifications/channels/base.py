"""The one small interface every channel implements, and the two ways a send can fail."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy import Select, bindparam

from notifications.templates import Message, Template

# The one user a ``probe`` asks about, named alike by every channel so that several
# probes ride along one statement with one parameter.
PROBE_USER_ID = "b_user_id"
probe_user_id = bindparam(PROBE_USER_ID)
NOT_PROBED: Any = object()


class DeliveryError(Exception):
    """A send failed; ``reason`` goes into the delivery's ``last_error``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:300]


class RetryableError(DeliveryError):
    """Worth trying again later: the network, a 5xx, a rate limit."""


class PermanentError(DeliveryError):
    """Trying again cannot help; the notification falls back to another channel."""


class ReservationNeeded(Exception):
    """``reaches(..., reserve=False)``: the answer depends on using up quota (a one-time
    WeChat acceptance), which must happen in the transaction that writes the delivery."""


class Channel(ABC):
    """A way of reaching a person. ``queued`` channels are sent by the worker."""

    name: str
    queued: bool = True

    @abstractmethod
    def recipients(self, users: Select, template: Template, *, fallback: bool = False):
        """Which of the users selected by ``users`` (a SELECT of user ids) this channel
        reaches with ``template``: a SQL condition on ``Notification.user_id``, or None for
        nobody.

        Runs inside the event's transaction and may reserve quota there (a WeChat
        subscription); ``fallback`` is true when another channel has failed for good.
        Working in SQL rather than on lists keeps a 2,000-person batch one statement.
        """

    def reaches(
        self,
        user_id: int,
        template: Template,
        conn=None,
        reserve: bool = True,
        probed: Any = NOT_PROBED,
    ) -> bool:
        """``recipients`` for one user, as a yes or no, in at most a couple of indexed
        look-ups: the path every single ``notify`` takes (a scan notifies one holder), so
        it must cost far less than the set-based statements built for campaigns. Same rule,
        same reservation; tests check that both forms agree. ``conn``: the bare driver
        connection of a hot path (``backend.db_driver``), else the session. ``reserve``
        False: only read; raise ``ReservationNeeded`` rather than reserve (the caller is
        outside a transaction and retries inside one). ``probed``: the value of this
        channel's ``probe``, already read along another statement (no look-up then)."""
        return False

    def probe(self, template: Template) -> tuple[Any, dict[str, Any]] | None:
        """The look-up ``reaches`` makes, as a scalar SQL expression of the user id
        ``probe_user_id`` with its other parameters, so a hot path can read it within a
        statement it sends anyway (a scan's load) instead of a round trip of its own.
        None: ``reaches`` needs no look-up (or reaches nobody) for this template."""
        return None

    def send(self, message: Message) -> str | None:
        """Send now; return the provider's message id. Raise a ``DeliveryError`` on failure."""
        return None

    def gave_up(self, message: Message, template: Template, error: DeliveryError) -> None:
        """The delivery failed for good: give back what ``recipients`` reserved."""
        return None
