"""The embedded servers close connections that only take up room.

Java's ``NettyRemotingServer`` closes a channel that is idle for
``serverChannelMaxIdleTimeSeconds`` (120 s by default; ``IdleStateHandler``
then ``closeChannel``) on both the name server's and the broker's port.
Here "idle" means *no complete frame* for ``idle_timeout`` seconds: a client
that dribbles an unfinished frame a byte at a time (slowloris) keeps bytes
arriving but is closed all the same, while a connection the server owes an
answer to (a held :class:`~rmqwire.broker.DeferredReply`, the shape of a
long-polling pull) is not idle until that answer has gone out.

The timeouts are short so that the tests are quick; every wait on the
server's decision is an awaited event with a bound, never a bare sleep.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct

import pytest

from rmqwire.broker import DeferredReply, RequestContext, reply
from rmqwire.codec import ConfigError, RemotingCommand, RequestCode, ResponseCode
from rmqwire.testing import LocalBroker
from test_broker_processors import Peer as processors_peer
from test_broker_processors import with_broker

HOLD = 9002  # a request code of our own, for a processor that holds its answer
IDLE = 0.3
#: how long a test waits for the server to close a connection it should close
CLOSE_WITHIN = 5.0


class Peer(processors_peer):
    """A raw connection (:class:`test_broker_processors.Peer`) that can also
    watch a silent connection stay open."""

    async def still_open_after(self, seconds: float) -> bool:
        """Whether the server leaves the connection open (and silent) for ``seconds``."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), seconds)
        except asyncio.TimeoutError:
            return True
        except (ConnectionResetError, BrokenPipeError):
            return False
        self.pending.extend(self.decoder.feed(data))
        return bool(data)


def heartbeat(opaque: int) -> RemotingCommand:
    return RemotingCommand.request(RequestCode.HEART_BEAT, body=b'{"clientID":"idle-test@1"}', opaque=opaque)


def route_request(opaque: int) -> RemotingCommand:
    return RemotingCommand.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "TBW102"}, opaque=opaque)


def idle_closes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "(idle timeout)" in r.getMessage()]


# --------------------------------------------------------------------------- settings


def test_the_idle_timeout_is_javas_120_seconds_on_both_ports_by_default() -> None:
    broker = LocalBroker(broker_names=("broker-a", "broker-b"))
    assert broker.config.idle_timeout == 120.0
    listeners = [broker.cluster.namesrv.listener] + [broker.broker(n).listener for n in ("broker-a", "broker-b")]
    assert [listener.idle_timeout for listener in listeners] == [120.0, 120.0, 120.0]
    assert LocalBroker(idle_timeout=None).broker().listener.idle_timeout is None
    assert LocalBroker(idle_timeout=5).config.idle_timeout == 5.0


@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan, True, "120"])
def test_a_bad_idle_timeout_is_a_config_error(bad: object) -> None:
    with pytest.raises(ConfigError, match="idle_timeout"):
        LocalBroker(idle_timeout=bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- idle connections


def test_a_connection_that_sends_nothing_is_closed_on_either_port(caplog: pytest.LogCaptureFixture) -> None:
    @with_broker(idle_timeout=IDLE)
    async def body(broker: LocalBroker) -> None:
        peers = [await Peer.connect(broker.namesrv_addr), await Peer.connect(broker.broker_addrs["broker-a"])]
        for peer in peers:
            assert await peer.closed_by_server(CLOSE_WITHIN)
        assert broker.broker().connections == []

    with caplog.at_level(logging.WARNING, logger="rmqwire"):
        body()
    closes = idle_closes(caplog)
    assert len(closes) == 2
    assert any(c.startswith("namesrv: closing connection") for c in closes)
    assert any(c.startswith("broker-a: closing connection") for c in closes)
    assert all(f"no complete frame for {IDLE:g} s" in c and "from 127.0.0.1:" in c for c in closes)


@with_broker(idle_timeout=IDLE)
async def test_complete_frames_keep_a_connection_open_and_silence_then_closes_it(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    # a frame every third of the timeout, for three timeouts
    for opaque in range(1, 10):
        peer.send(heartbeat(opaque))
        answer = await peer.recv()
        assert (answer.opaque, answer.code) == (opaque, ResponseCode.SUCCESS)
        await asyncio.sleep(IDLE / 3)
    assert await peer.closed_by_server(CLOSE_WITHIN)


@with_broker(idle_timeout=IDLE)
async def test_a_connection_answering_nothing_but_asking_is_not_idle_on_the_name_server(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.namesrv_addr)
    for opaque in range(1, 7):
        peer.send(route_request(opaque))
        assert (await peer.recv()).opaque == opaque
        await asyncio.sleep(IDLE / 3)
    assert await peer.closed_by_server(CLOSE_WITHIN)


def test_a_slowloris_dribbling_an_unfinished_frame_is_closed(caplog: pytest.LogCaptureFixture) -> None:
    @with_broker(idle_timeout=IDLE, max_buffered_bytes=1_000_000)
    async def body(broker: LocalBroker) -> None:
        peer = await Peer.connect(broker.broker_addrs["broker-a"])
        peer.writer.write(struct.pack(">I", 100_000))  # announces a 100 kB frame ...

        async def dribble() -> None:  # ... and sends it a byte every few milliseconds, forever
            while not peer.writer.is_closing():
                peer.writer.write(b"\x00")
                await asyncio.sleep(IDLE / 20)

        task = asyncio.create_task(dribble())
        try:
            assert await peer.closed_by_server(within=10 * IDLE)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        budget = broker.broker().listener.budget
        assert budget is not None and budget.used == 0  # what it held is given back
        await peer.close()

    with caplog.at_level(logging.WARNING, logger="rmqwire"):
        body()
    [close] = idle_closes(caplog)
    assert close.startswith("broker-a: closing connection") and "bytes of an unfinished frame held" in close


@with_broker(idle_timeout=None)
async def test_without_an_idle_timeout_a_silent_connection_stays(broker: LocalBroker) -> None:
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    assert await peer.still_open_after(3 * IDLE)
    peer.send(heartbeat(1))
    assert (await peer.recv()).code == ResponseCode.SUCCESS
    await peer.close()


# --------------------------------------------------------------------------- held answers


class Holder:
    """Holds every request until released: the shape of a long-polling pull."""

    def __init__(self) -> None:
        self.held: list[DeferredReply] = []

    def __call__(self, request: RemotingCommand, ctx: RequestContext) -> DeferredReply:
        deferred = ctx.defer()
        self.held.append(deferred)
        return deferred


@with_broker(idle_timeout=IDLE)
async def test_a_connection_waiting_for_a_held_answer_is_not_idle(broker: LocalBroker) -> None:
    # No long-polling pull exists yet; a processor that defers its answer is
    # what one will do, so it stands in for it here.
    holder = Holder()
    broker.broker().registry.register(HOLD, holder)
    peer = await Peer.connect(broker.broker_addrs["broker-a"])
    peer.send(RemotingCommand.request(HOLD, {"topic": "T"}, opaque=7))
    assert await peer.still_open_after(4 * IDLE)  # silent for four timeouts, but owed an answer
    [deferred] = holder.held
    assert deferred.resolve(reply(deferred.request, ResponseCode.SUCCESS, "released"))
    answer = await peer.recv()
    assert (answer.opaque, answer.remark) == (7, "released")
    # once answered, the clock runs again from the answer
    assert await peer.closed_by_server(CLOSE_WITHIN)
