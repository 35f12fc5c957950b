"""Finding the name servers: the HTTP address lookup and the choice among several.

Mirrors Java's ``TopAddressing`` (GET ``http://{domain}:8080/rocketmq/{subgroup}``)
and the name-server choice of ``NettyRemotingClient`` (``namesrvAddrChoosed``:
keep the one that answered, move on when it fails).  :class:`NamesrvChooser`
holds no sockets: the client instance asks it which address to try next
and tells it how each attempt went.
"""

from __future__ import annotations

import asyncio
import random

from .codec.errors import ConfigError, ConnectError
from .aiotools import wait_for
from .transport import parse_addr

__all__ = ["fetch_namesrv_addr", "NamesrvChooser", "missing_namesrv_error"]


def missing_namesrv_error() -> ConfigError:
    """The error for a client with no way to find a name server."""
    return ConfigError(
        "no name server address: pass namesrv_addr='host:port[;host:port]', set the NAMESRV_ADDR "
        "environment variable, or give namesrv_domain (or ROCKETMQ_NAMESRV_DOMAIN) for the HTTP "
        "address lookup"
    )


async def fetch_namesrv_addr(domain: str, subgroup: str, timeout: float = 3.0) -> tuple[str, ...]:
    """Java's ``TopAddressing``: GET ``http://{domain}:8080/rocketmq/{subgroup}``
    and split the answer on ``;``.  A domain with a port is used as given."""
    host_port = domain if ":" in domain else f"{domain}:8080"
    host, port = parse_addr(host_port)
    try:
        reader, writer = await wait_for(asyncio.open_connection(host, port), timeout, discard=lambda rw: rw[1].close())
    except (OSError, asyncio.TimeoutError) as exc:
        raise ConnectError(host_port, f"name server address lookup failed: {exc or 'timeout'}") from None
    try:
        writer.write(f"GET /rocketmq/{subgroup} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("ascii"))
        raw = await wait_for(reader.read(65536), timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        raise ConnectError(host_port, f"name server address lookup failed: {exc or 'timeout'}") from None
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)
    if len(status) < 2 or status[1] != b"200":
        raise ConnectError(host_port, f"name server address lookup answered {head[:60]!r}")
    addrs = tuple(a.strip() for a in body.decode("utf-8", "replace").strip().split(";") if a.strip())
    if not addrs:
        raise ConnectError(host_port, "name server address lookup returned no address")
    return addrs


class NamesrvChooser:
    """Which name server to ask: the one that answered last, else the next.

    Starts at a random address (so clients spread out, as Java's random
    ``namesrvIndex``); :meth:`failed` moves on (``++index % size``),
    :meth:`answered` makes that address the preferred one.
    """

    def __init__(self, addrs: tuple[str, ...] = ()) -> None:
        self._addrs = addrs
        self._index = random.randrange(999)

    @property
    def addrs(self) -> tuple[str, ...]:
        """The name server addresses, in configuration order."""
        return self._addrs

    @addrs.setter
    def addrs(self, addrs: tuple[str, ...]) -> None:
        preferred = self.preferred if self._addrs else None
        self._addrs = addrs
        if preferred in addrs:
            self._index = addrs.index(preferred)

    @property
    def preferred(self) -> str:
        """The address to try first."""
        return self._addrs[self._index % len(self._addrs)]

    def order(self) -> list[str]:
        """Every address once, the preferred one first."""
        n = len(self._addrs)
        start = self._index % n if n else 0
        return [self._addrs[(start + i) % n] for i in range(n)]

    def answered(self, addr: str) -> None:
        """``addr`` answered: ask it first from now on."""
        if addr in self._addrs:
            self._index = self._addrs.index(addr)

    def failed(self, addr: str) -> None:
        """``addr`` failed: if it was the preferred one, move on."""
        if self._addrs and self.preferred == addr:
            self._index = (self._index + 1) % len(self._addrs)
