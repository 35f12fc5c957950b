"""A minimal name server + broker for measuring clients, run as its own process.

    python -m benches.minimal_broker [--host 127.0.0.1] [--namesrv-port 0] [--broker-port 0]

It answers exactly what a producer needs, with canned but correctly shaped
answers built with :mod:`rmqwire.codec`, and stores nothing:

* name server: GET_ROUTEINFO_BY_TOPIC -> one broker (``bench-broker``, 4
  queues, read/write) for any topic;
* broker: HEART_BEAT and UNREGISTER_CLIENT -> SUCCESS; SEND_MESSAGE,
  SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE -> SUCCESS with ``msgId`` (one
  offset message id per message of a batch, comma-joined), ``queueId``,
  ``queueOffset`` (counted per queue), ``MSG_REGION`` and ``TRACE_ON`` as
  Java's ``SendMessageProcessor`` adds them; oneway requests get no answer;
* anything else -> REQUEST_CODE_NOT_SUPPORTED.

Every answer uses the request's opaque and header serialisation, and the
answers to one read are written with one ``transport.write``, so that the
broker's cost per message stays small next to the client's: the client is
what the bench measures.  When it listens it prints one JSON line,
``{"namesrv": "host:port", "broker": "host:port", "pid": N}``, and it runs
until SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import struct
import sys
from collections.abc import Callable

from rmqwire.codec import (
    BrokerData,
    FrameDecoder,
    PermName,
    QueueData,
    RemotingCommand,
    RequestCode,
    ResponseCode,
    TopicRouteData,
    create_offset_msg_id,
    encode,
)

BROKER_NAME = "bench-broker"
QUEUES = 4
_SENDS = frozenset({RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE})
_ACKED = frozenset({RequestCode.HEART_BEAT, RequestCode.UNREGISTER_CLIENT})
_INT = struct.Struct(">i")


def batch_count(body: bytes) -> int:
    """How many messages a SEND_BATCH_MESSAGE body holds: each entry starts
    with its own total size (``MessageDecoder.encodeMessage``)."""
    count, pos, end = 0, 0, len(body)
    while pos + 4 <= end:
        size = _INT.unpack_from(body, pos)[0]
        if size <= 0:
            break
        pos += size
        count += 1
    return max(count, 1)


class Responder:
    """What both ports answer; one per process, shared by every connection."""

    def __init__(self, broker_addr: str) -> None:
        host, _, port = broker_addr.rpartition(":")
        self._host, self._port = host, int(port)
        self._offsets = [0] * QUEUES
        self._id_prefix = create_offset_msg_id(self._host, self._port, 0)[:-16]
        self._commit_offset = 0
        route = TopicRouteData(
            queue_datas=(QueueData(BROKER_NAME, QUEUES, QUEUES, int(PermName.PERM_READ | PermName.PERM_WRITE)),),
            broker_datas=(BrokerData("DefaultCluster", BROKER_NAME, {0: broker_addr}),),
        )
        self._route_body = route.to_json()

    def answer(self, cmd: RemotingCommand) -> RemotingCommand | None:
        """The response to ``cmd`` (None for a oneway request)."""
        code = cmd.code
        if code in _SENDS:
            response = self._send(cmd)
        elif code == RequestCode.GET_ROUTEINFO_BY_TOPIC:
            response = cmd.reply(ResponseCode.SUCCESS, body=self._route_body)
        elif code in _ACKED:
            response = cmd.reply(ResponseCode.SUCCESS)
        else:
            response = cmd.reply(ResponseCode.REQUEST_CODE_NOT_SUPPORTED, f"request code {code} not supported")
        return None if cmd.is_oneway else response

    def _send(self, cmd: RemotingCommand) -> RemotingCommand:
        fields = cmd.ext_fields
        try:
            queue_id = int(fields.get("e") or fields.get("queueId") or 0) % QUEUES
        except ValueError:
            queue_id = 0
        count = batch_count(cmd.body) if cmd.code == RequestCode.SEND_BATCH_MESSAGE else 1
        ids = []
        prefix = self._id_prefix
        for _ in range(count):
            # create_offset_msg_id's text, its address part made once (offsets stay >= 0)
            ids.append(f"{prefix}{self._commit_offset:016X}")
            self._commit_offset += 200 + len(cmd.body) // count
        offset = self._offsets[queue_id]
        self._offsets[queue_id] = offset + count
        return cmd.reply(
            ResponseCode.SUCCESS,
            ext_fields={
                "msgId": ",".join(ids),
                "queueId": str(queue_id),
                "queueOffset": str(offset),
                "MSG_REGION": "DefaultRegion",
                "TRACE_ON": "true",
            },
        )


class _Connection(asyncio.Protocol):
    def __init__(self, answer: Callable[[RemotingCommand], RemotingCommand | None]) -> None:
        self._answer = answer
        self._decoder = FrameDecoder()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        try:
            commands = self._decoder.feed(data)
        except Exception as exc:  # a bench peer sent garbage: drop it, say why
            print(f"minimal_broker: closing a connection: {exc}", file=sys.stderr)
            self._transport.close()
            return
        out = []
        for cmd in commands:
            response = self._answer(cmd)
            if response is not None:
                out.append(encode(response))
        if out:
            self._transport.write(b"".join(out))


async def serve(host: str, namesrv_port: int, broker_port: int) -> None:
    """Listen on both ports, print where, and run until SIGTERM / SIGINT."""
    loop = asyncio.get_running_loop()
    holder: list[Responder] = []

    def answer(cmd: RemotingCommand) -> RemotingCommand | None:
        return holder[0].answer(cmd)

    broker = await loop.create_server(lambda: _Connection(answer), host, broker_port)
    broker_addr = f"{host}:{broker.sockets[0].getsockname()[1]}"
    holder.append(Responder(broker_addr))
    namesrv = await loop.create_server(lambda: _Connection(answer), host, namesrv_port)
    namesrv_addr = f"{host}:{namesrv.sockets[0].getsockname()[1]}"
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(json.dumps({"namesrv": namesrv_addr, "broker": broker_addr, "pid": os.getpid()}), flush=True)
    async with broker, namesrv:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--namesrv-port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--broker-port", "--port", type=int, default=0, help="0 picks a free port (default)")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.namesrv_port, args.broker_port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
