"""The HTTP address server Java clients can find the name server through.

Mirrors what Java's ``TopAddressing`` reads (``rocketmq.namesrv.domain`` /
``WS_DOMAIN_NAME``): ``GET /rocketmq/{subgroup}`` answered with the name
server address list as ``text/plain``.  A deliberately tiny HTTP/1.1: one
request per connection, headers capped at 8 KiB, then ``Connection: close``.
"""

from __future__ import annotations

from collections.abc import Callable

from .server import Listener, TrackedConnection

__all__ = ["HttpConnection", "http_listener"]

#: The most header bytes read before answering 431.
HEADER_LIMIT = 8192


class HttpConnection(TrackedConnection):
    """One HTTP request, answered and closed."""

    def __init__(self, listener: Listener, address: Callable[[], str]) -> None:
        super().__init__(listener)
        self._address = address
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        if not self.is_open:
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > HEADER_LIMIT:
                self._respond(431, "Request Header Fields Too Large", "")
            return
        line = bytes(self.buffer[: self.buffer.find(b"\r\n")]).decode("latin-1")
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self._respond(400, "Bad Request", "")
            return
        method, target = parts[0], parts[1]
        path = target.split("?", 1)[0]
        segments = path.split("/")
        if len(segments) != 3 or segments[0] or segments[1] != "rocketmq" or not segments[2]:
            self._respond(404, "Not Found", "")
        elif method not in ("GET", "HEAD"):
            self._respond(405, "Method Not Allowed", "")
        else:
            self._respond(200, "OK", self._address(), head=method == "HEAD")

    def _respond(self, status: int, reason: str, text: str, head: bool = False) -> None:
        body = text.encode()
        head_bytes = (
            f"HTTP/1.1 {status} {reason}\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode("latin-1")
        self.write(head_bytes if head else head_bytes + body)
        if self.transport is not None:
            self.transport.close()


def http_listener(port: int, address: Callable[[], str]) -> Listener:
    """A listener on ``port`` answering ``address()`` (the name server list)."""
    return Listener("http", port, lambda listener: HttpConnection(listener, address))
