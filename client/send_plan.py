"""How a send is tried, without the I/O: ``sendDefaultImpl``'s attempts and
``sendSelectImpl``'s single one (protocol.md 8).

A plan is a generator.  It yields each attempt as ``(queue, seconds left)``
and is sent back how that attempt went: the :class:`SendResult` (``None`` for
a oneway send) or the :class:`~codec.errors.RemotingError` /
:class:`~codec.errors.BrokerError` it raised.  It returns the result the
caller gets, or raises what the caller must see.  The asyncio producer
drives a plan with awaits on the loop, the blocking producer with blocking
calls on the caller's own thread (:mod:`client.send_blocking`): both try a
send in exactly this one way, with the same fault bookkeeping.  A driver::

    mq, remaining = next(plan)
    while True:
        try:
            outcome = attempt(mq, remaining)
        except (RemotingError, BrokerError) as exc:
            outcome = exc
        try:
            mq, remaining = plan.send(outcome)
        except StopIteration as done:
            return done.value

``clock`` is a monotonic clock in seconds (the loop's ``time``, which is
``time.monotonic``), read twice per attempt: before it (also the start of
its latency) and after its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator

from .codec.errors import BrokerError, RemotingError, RequestTimeoutError, RocketMQError
from .route import FaultTracker, TopicPublishInfo
from .send_request import SendRequest
from .types import MessageQueue, SendResult, SendStatus

__all__ = ["Attempt", "Outcome", "Plan", "retry_plan", "once_plan"]

log = logging.getLogger("rmqwire.producer")

#: one attempt: the queue to send to and the seconds left for it
Attempt = tuple[MessageQueue, float]
#: how an attempt went
Outcome = SendResult | None | RemotingError | BrokerError
Plan = Generator[Attempt, Outcome, SendResult | None]

_NO_BROKERS: frozenset[str] = frozenset()


def retry_plan(
    request: SendRequest,
    info: TopicPublishInfo,
    deadline: float,
    total: float,
    clock: Callable[[], float],
    *,
    now: float | None = None,
    retries: int,
    tracker: FaultTracker,
    avoid_faulty: bool,
    retry_when_not_stored: bool,
) -> Plan:
    """``sendDefaultImpl``: a queue per attempt, avoiding the broker that just
    failed (and, with ``avoid_faulty``, brokers in a fault window); retriable
    failures are tried again, up to ``1 + retries`` attempts (one for a
    oneway send), all before ``deadline``.  A stored-but-not-OK status
    (FLUSH_DISK_TIMEOUT ...) is tried again on another broker only with
    ``retry_when_not_stored``.  ``now``: the clock as the send began, when
    the caller has just read it."""
    attempts = 1 if request.oneway else 1 + retries
    last_broker: str | None = None
    last_error: RocketMQError | None = None
    if now is None:
        now = clock()
    for attempt in range(attempts):
        if attempt:
            now = clock()
        if deadline - now <= 0:
            break
        mq = info.select_queue(last_broker, tracker.avoided(now) if avoid_faulty else _NO_BROKERS)
        started = now
        outcome = yield mq, deadline - now
        now = clock()
        latency_ms = (now - started) * 1000
        if isinstance(outcome, (RemotingError, BrokerError)):
            tracker.update(mq.broker_name, latency_ms, isolated=True, now=now)
            if isinstance(outcome, BrokerError) and not outcome.retriable:
                raise outcome
            log.warning("send to %s failed (attempt %d/%d): %s", mq.broker_name, attempt + 1, attempts, outcome)
            last_error, last_broker = outcome, mq.broker_name
            continue
        tracker.update(mq.broker_name, latency_ms, isolated=False, now=now)
        if outcome is None or outcome.status is SendStatus.SEND_OK:
            return outcome
        if not retry_when_not_stored or attempt == attempts - 1:
            return outcome
        last_broker = mq.broker_name
    if last_error is not None:
        raise last_error
    raise RequestTimeoutError(f"send to topic {request.topic} timed out after {total:g} s")


def once_plan(mq: MessageQueue, deadline: float, total: float, clock: Callable[[], float]) -> Plan:
    """``sendSelectImpl`` / ``send(msg, mq)``: one attempt, to the chosen
    queue (another queue would break the order), and no fault-window
    bookkeeping: Java keeps that for ``sendDefaultImpl``'s own choices."""
    remaining = deadline - clock()
    if remaining <= 0:
        raise RequestTimeoutError(f"send to {mq} timed out after {total:g} s before it was sent")
    outcome = yield mq, remaining
    if isinstance(outcome, (RemotingError, BrokerError)):
        raise outcome
    return outcome

