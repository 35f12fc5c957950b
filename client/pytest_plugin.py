"""pytest fixtures for :class:`client.testing.LocalBroker`.

Registered through the ``pytest11`` entry point ``rmqwire``, so any project
that installs rmqwire gets them.  The plugin imports nothing of rmqwire until
a fixture is used: a broken or partial install cannot break pytest itself.

* ``local_broker``: a started LocalBroker (defaults) running on its own event
  loop in a daemon thread, usable from plain sync tests; stopped after the test.
* ``local_broker_factory``: call it with :class:`~client.testing.LocalBroker`
  keyword arguments to get more started brokers; all are stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .testing import LocalBroker

__all__ = ["local_broker", "local_broker_factory"]


@pytest.fixture
def local_broker_factory() -> Iterator[Callable[..., LocalBroker]]:
    """``factory(**kwargs) -> LocalBroker``, started in a background thread."""
    from .testing import LocalBroker

    started: list[LocalBroker] = []

    def factory(**kwargs: Any) -> LocalBroker:
        broker = LocalBroker(**kwargs)
        broker.start_in_thread()
        started.append(broker)
        return broker

    try:
        yield factory
    finally:
        errors: list[BaseException] = []
        for broker in reversed(started):
            try:
                broker.stop_in_thread()
            except Exception as exc:  # stop the others anyway
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture
def local_broker(local_broker_factory: Callable[..., LocalBroker]) -> LocalBroker:
    """A started LocalBroker with default settings (one broker, ``broker-a``)."""
    return local_broker_factory()
