"""Message ids: the client's ``UNIQ_KEY`` and the broker's offset message id.

Mirrors ``MessageClientIDSetter`` (:class:`UniqueIdGenerator`, the
process-wide :func:`new_message_id`) and ``MessageDecoder.createMessageId`` /
``decodeMessageId``.  A generator reads the clock when ``now_ms`` is not
given and looks up this host's IPv4 address (one UDP ``connect``, which
sends nothing) when ``ip`` is not given: a message id needs both, and Java
takes them from the environment too.
Part of :mod:`codec.message`, which re-exports every public name here.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import struct
import threading
import time
from dataclasses import dataclass
from typing import Final

from .errors import EncodeError, MalformedBodyError
from .properties import _bytes_like

__all__ = [
    "local_ipv4",
    "UniqueIdGenerator",
    "UniqueIdInfo",
    "new_message_id",
    "parse_unique_id",
    "create_offset_msg_id",
    "parse_offset_msg_id",
]


_LOOPBACK_V4: Final = bytes((127, 0, 0, 1))


def _local_ipv4() -> bytes:
    """This host's outward IPv4 address, or 127.0.0.1.

    Connecting a UDP socket only asks the kernel for a route: no packet is
    sent and no name is resolved, so this can neither hang nor leak traffic.
    The address is from TEST-NET-1 (RFC 5737) and is never contacted.
    """
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
        ip = ipaddress.IPv4Address(address)
    except (OSError, ValueError):
        return _LOOPBACK_V4
    if ip.is_loopback or ip.is_unspecified or ip.is_link_local:
        return _LOOPBACK_V4
    return ip.packed


def local_ipv4() -> str:
    """This host's outward IPv4 address as text (see :func:`_local_ipv4`):
    what Java's ``getLocalAddress`` picks for client ids and message ids."""
    return str(ipaddress.IPv4Address(_local_ipv4()))


def _month_bounds(now_ms: int) -> tuple[int, int]:
    """Start of the month containing ``now_ms`` and of the next one, in epoch
    milliseconds, by the local calendar (as Java's ``Calendar`` computes them)."""
    t = time.localtime(now_ms / 1000)
    start = time.mktime((t.tm_year, t.tm_mon, 1, 0, 0, 0, 0, 0, -1))
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    nxt = time.mktime((year, month, 1, 0, 0, 0, 0, 0, -1))
    return int(start * 1000), int(nxt * 1000)


class UniqueIdGenerator:
    """``MessageClientIDSetter``: client message ids (``UNIQ_KEY``), 32 upper-case
    hex characters for an IPv4 ``ip`` (56 for IPv6).

    Layout: IP (4 or 16 bytes), pid (2 bytes, ``pid & 0xFFFF``), a random
    int fixed per generator (4 bytes; Java's class-loader hash), the
    milliseconds since the start of the current month in local time (4 bytes,
    Java's ``(int)`` cast), a counter (2 bytes, wrapping at 65536).  The first
    three are fixed per generator and formatted once.  Thread-safe.
    """

    __slots__ = ("_prefix", "_lock", "_count", "_month_start", "_next_month_start", "_head")

    def __init__(self, ip: bytes | None = None, pid: int | None = None) -> None:
        if ip is None:
            ip = _local_ipv4()
        ip = _bytes_like(ip, "ip")
        if len(ip) not in (4, 16):
            raise EncodeError(f"a message id needs a 4-byte (IPv4) or 16-byte (IPv6) address, not {len(ip)} bytes")
        if pid is None:
            pid = os.getpid()
        salt = int.from_bytes(os.urandom(4), "big")
        self._prefix = f"{ip.hex().upper()}{pid & 0xFFFF:04X}{salt:08X}"
        self._lock = threading.Lock()
        # next() of an itertools.count is one C call, so atomic under the GIL:
        # no lock per id.  The lock only guards the month bounds.
        self._count = itertools.count()
        self._month_start = 0
        self._next_month_start = 0
        #: (epoch ms, the id up to the counter) for the last millisecond seen:
        #: ids within one millisecond format only their counter.  One tuple,
        #: replaced whole, so threads never see half of it.
        self._head: tuple[int, str] = (-1, "")

    def next_id(self, now_ms: int | None = None) -> str:
        """A new id for a message sent at ``now_ms`` (epoch milliseconds;
        the clock when omitted)."""
        if now_ms is None:
            now_ms = time.time_ns() // 1_000_000
        counter = next(self._count) & 0xFFFF
        head_ms, head = self._head
        if head_ms != now_ms:
            with self._lock:
                if not self._month_start <= now_ms < self._next_month_start:
                    try:
                        self._month_start, self._next_month_start = _month_bounds(now_ms)
                    except (OverflowError, OSError, ValueError, TypeError) as exc:
                        raise EncodeError(f"now_ms {now_ms!r} is not a usable time: {exc}") from None
                elapsed = max(now_ms - self._month_start, 0)
            head = f"{self._prefix}{elapsed & 0xFFFFFFFF:08X}"
            self._head = (now_ms, head)
        return f"{head}{counter:04X}"


@dataclass(frozen=True, slots=True)
class UniqueIdInfo:
    """What a client message id says (``MessageClientIDSetter.getIPStrFromID``,
    ``getPidFromID``, ...)."""

    ip: str
    pid: int
    loader_hash: int
    #: Milliseconds since the start of the sender's month, local time.
    elapsed_ms: int
    counter: int


_HEX_ID = re.compile(r"(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{56})")


def _id_bytes(msg_id: object, what: str) -> bytes:
    if not isinstance(msg_id, str) or _HEX_ID.fullmatch(msg_id) is None:
        raise MalformedBodyError(f"{what} must be 32 or 56 hex characters, not {msg_id!r}")
    return bytes.fromhex(msg_id)


def parse_unique_id(msg_id: str) -> UniqueIdInfo:
    """Read back a client message id; :class:`MalformedBodyError` if it is not one."""
    raw = _id_bytes(msg_id, "a client message id")
    ip_len = len(raw) - 12
    ip = str(ipaddress.ip_address(raw[:ip_len]))
    pid, loader_hash, elapsed, counter = struct.unpack_from(">HiIH", raw, ip_len)
    return UniqueIdInfo(ip, pid, loader_hash, elapsed, counter)


def create_offset_msg_id(host: str, port: int, offset: int) -> str:
    """``MessageDecoder.createMessageId``: the broker's ``msgId`` for the message
    at commitlog ``offset`` of the store at ``host:port``: address, int32 port,
    int64 offset, in upper-case hex (32 characters for IPv4, 56 for IPv6)."""
    try:
        if not isinstance(host, str):
            raise ValueError(host)  # ip_address() would take an int as an address
        packed = ipaddress.ip_address(host).packed
    except ValueError:
        raise EncodeError(f"store host must be an IP address, not {host!r}") from None
    if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise EncodeError(f"port must be 0..65535, not {port!r}")
    if not isinstance(offset, int) or not -(2**63) <= offset < 2**63:
        raise EncodeError(f"commitlog offset must be a 64-bit integer, not {offset!r}")
    return (packed + struct.pack(">iq", port, offset)).hex().upper()


def parse_offset_msg_id(msg_id: str) -> tuple[str, int, int]:
    """``(store host, port, commitlog offset)`` of a broker ``msgId``
    (``MessageDecoder.decodeMessageId``); :class:`MalformedBodyError` if it is not one."""
    raw = _id_bytes(msg_id, "an offset message id")
    ip_len = len(raw) - 12
    port, offset = struct.unpack_from(">iq", raw, ip_len)
    return str(ipaddress.ip_address(raw[:ip_len])), port, offset


_default_generator: UniqueIdGenerator | None = None
_default_lock = threading.Lock()


def _forget_default_generator() -> None:
    # A forked child shares the parent's counter and salt but has its own pid:
    # make it build its own generator (and lock) on first use.
    global _default_generator, _default_lock
    _default_generator = None
    _default_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_default_generator)


def new_message_id() -> str:
    """A client message id from the process-wide :class:`UniqueIdGenerator`."""
    global _default_generator
    generator = _default_generator
    if generator is None:
        with _default_lock:
            if _default_generator is None:
                _default_generator = UniqueIdGenerator()
            generator = _default_generator
    return generator.next_id()
