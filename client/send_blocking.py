"""The blocking producer's sends, run on the caller's own thread.

Java's ``DefaultMQProducer.send`` runs on the thread that calls it: that
thread picks the queue, builds the request and writes it, and Netty's I/O
thread only reads the answer and hands it back.  The blocking
:class:`~rmqwire.Producer` does the same.  Running each send as a task on
the event-loop thread instead cost more CPU than the whole round trip to the
broker: two thread switches per send, a self-pipe write, a task and its
coroutines (issue 13 measured about 50 of 180 µs).

So the caller's thread drives the send's plan (:mod:`client.send_plan`,
the same one the asyncio producer drives), runs a selector (as Java does),
builds each request and writes it with
:meth:`~client.transport.Connection.request_blocking`; the loop thread reads
the socket and releases the caller when the response is in.  What only the
loop can do (look a route up, open a connection) is run there, and the
caller waits for it.  Reading the producer's route and fault tables from
here is safe: each lookup is one dict operation, and a racing round-robin
index only makes two threads pick the same queue, as Java's may.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .codec.errors import BrokerError, RemotingError
from .send_plan import Outcome
from .send_request import SendRequest
from .types import MessageQueue, SendResult

if TYPE_CHECKING:
    from .producer import AsyncProducer

__all__ = ["send"]

T = TypeVar("T")

class OnLoop(Protocol):
    """Runs a coroutine that bounds its own time by ``timeout`` on the loop
    thread and waits for it (``BlockingFacade._run_within``)."""

    def __call__(self, coro: Coroutine[Any, Any, T], timeout: float, what: str) -> T: ...


def send(core: AsyncProducer, request: SendRequest, timeout: float | None, on_loop: OnLoop) -> SendResult | None:
    """Send ``request`` as ``core._send`` does, from this thread; ``None`` for a oneway send."""
    clock = time.monotonic  # the loop's clock too (BaseEventLoop.time)
    total = core._opts.send_timeout if timeout is None else timeout
    start = clock()
    deadline = start + total
    now: float | None = start
    info = None
    if request.queue is None:
        info = core._publish.get(request.topic)
        if info is None or not info.ok:
            info = on_loop(core._find_publish_info(request.topic, total), total, "send")
            now = None
    plan = core._plan(request, info, deadline, total, clock, now)
    mq, remaining = next(plan)
    while True:
        try:
            outcome: Outcome = _attempt(core, mq, request, remaining, on_loop)
        except (RemotingError, BrokerError) as exc:
            outcome = exc
        try:
            mq, remaining = plan.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def _attempt(core: AsyncProducer, mq: MessageQueue, request: SendRequest, remaining: float, on_loop: OnLoop) -> SendResult | None:
    instance = core.instance
    addr = instance.find_broker_address_in_publish(mq.broker_name)
    if addr is not None:
        cmd = core._send_command(mq, request)
        if request.oneway:
            if instance.invoke_oneway_blocking(addr, cmd):
                return None
        else:
            response = instance.invoke_blocking(addr, cmd, remaining)
            if response is not None:
                return core._send_result(mq, request, response, addr)
    # the broker's address needs a route lookup, or its connection is not open yet
    return on_loop(core._send_kernel(mq, request, remaining), remaining, "send")
