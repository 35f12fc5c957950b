"""How commands look in log lines: short, with credentials masked.

A DEBUG frame log that printed ``repr(cmd)`` whole would write every
message body into the log (megabytes for a batch, binary noise for a
compressed body).  :func:`loggable` wraps a command so that formatting it
shows the code by name, the opaque, flag, remark and ext fields (the
``SecurityToken`` masked), and at most :data:`BODY_PREVIEW` bytes of the
body with its total length.  Formatting is lazy: nothing is built unless a
handler actually emits the line.
"""

from __future__ import annotations

from typing import Final

from .codec.acl import SECURITY_TOKEN
from .codec.command import RemotingCommand
from .codec.enums import RequestCode, ResponseCode

__all__ = ["BODY_PREVIEW", "loggable", "code_name", "preview"]

#: The most body bytes a log line shows.
BODY_PREVIEW: Final = 200


def code_name(cmd: RemotingCommand) -> str:
    """``SEND_MESSAGE_V2`` for a request, ``SUCCESS`` for a response; the
    number when the code has no name."""
    enum = ResponseCode if cmd.is_response else RequestCode
    try:
        return enum(cmd.code).name
    except ValueError:
        return str(cmd.code)


def preview(data: bytes, limit: int = BODY_PREVIEW) -> str:
    """``data`` as a ``repr`` of at most ``limit`` bytes, with the total
    length when it was cut."""
    if len(data) <= limit:
        return repr(bytes(data))
    return f"{bytes(data[:limit])!r}... ({len(data)} bytes)"


class _Loggable:
    __slots__ = ("cmd", "_text")

    def __init__(self, cmd: RemotingCommand) -> None:
        self.cmd = cmd
        self._text: str | None = None

    def __repr__(self) -> str:
        # Each handler formats the record again: build the text once.
        if self._text is None:
            self._text = self._format()
        return self._text

    def _format(self) -> str:
        cmd = self.cmd
        fields = cmd.ext_fields
        if SECURITY_TOKEN in fields:
            fields = {**fields, SECURITY_TOKEN: "***"}
        kind = "response" if cmd.is_response else "oneway" if cmd.is_oneway else "request"
        parts = [f"{code_name(cmd)}({cmd.code}) {kind} opaque={cmd.opaque}"]
        if cmd.remark is not None:
            parts.append(f"remark={cmd.remark!r}")
        if fields:
            parts.append(f"ext={fields!r}")
        if cmd.body:
            parts.append(f"body={preview(cmd.body)}")
        return " ".join(parts)

    __str__ = __repr__


def loggable(cmd: RemotingCommand) -> object:
    """``cmd`` fit for a log line (``%r`` or ``%s``): short body, no secret."""
    return _Loggable(cmd)
