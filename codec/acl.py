"""ACL 1.0 request signing, as Java's ``AclClientRPCHook`` does it.

Mirrors ``AclClientRPCHook``, ``AclUtils.combineRequestContent`` and
``AclSigner`` (``acl/common``): add ``AccessKey`` (and ``SecurityToken``),
sort every extField by key, concatenate the *values* (``Signature``
excluded) as UTF-8, append the body, HMAC-SHA1 with the secret key, base64,
and add the result as ``Signature``.  Pure: it returns a new command.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field, replace

from .command import RemotingCommand

__all__ = ["Credentials", "sign", "sign_command", "verify_command", "redacted", "ACCESS_KEY", "SECRET_KEY", "SIGNATURE", "SECURITY_TOKEN"]

ACCESS_KEY = "AccessKey"
SECRET_KEY = "SecretKey"
SIGNATURE = "Signature"
SECURITY_TOKEN = "SecurityToken"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access key and its secret (``SessionCredentials``).

    The secret and the token never appear in ``repr`` or ``str``.
    """

    access_key: str
    secret_key: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("access_key", "secret_key"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"Credentials.{name} must be a str")


def _java_order(key: str) -> bytes:
    # Java's TreeMap<String> compares UTF-16 code units, not code points
    return key.encode("utf-16-be", "surrogatepass")


def sign(ext_fields: dict[str, str], body: bytes, secret_key: str) -> str:
    """The base64 HMAC-SHA1 signature of ``ext_fields`` (minus ``Signature``)
    and ``body`` with ``secret_key``."""
    content = "".join(ext_fields[k] for k in sorted(ext_fields, key=_java_order) if k != SIGNATURE)
    # Java's getBytes(UTF_8) writes '?' for an unpaired surrogate; so does "replace"
    data = content.encode("utf-8", "replace") + (body or b"")
    digest = hmac.new(secret_key.encode("utf-8", "replace"), data, hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_command(cmd: RemotingCommand, credentials: Credentials) -> RemotingCommand:
    """``cmd`` with ``AccessKey`` (``SecurityToken``) and ``Signature`` added."""
    ext = {k: v for k, v in cmd.ext_fields.items() if k != SIGNATURE}
    ext[ACCESS_KEY] = credentials.access_key
    if credentials.security_token:
        ext[SECURITY_TOKEN] = credentials.security_token
    ext[SIGNATURE] = sign(ext, cmd.body, credentials.secret_key)
    return replace(cmd, ext_fields=ext)


def verify_command(cmd: RemotingCommand, secrets: dict[str, str]) -> bool:
    """True if ``cmd`` carries a valid signature for a known access key
    (what an ACL-enabled broker checks)."""
    access_key = cmd.ext_fields.get(ACCESS_KEY)
    given = cmd.ext_fields.get(SIGNATURE)
    if access_key is None or given is None or access_key not in secrets:
        return False
    expected = sign(cmd.ext_fields, cmd.body, secrets[access_key])
    # compare bytes: compare_digest refuses non-ASCII str, and a peer may send any
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def redacted(cmd: RemotingCommand) -> RemotingCommand:
    """``cmd`` fit for a log line: a ``SecurityToken`` is a credential, so it
    is masked (the access key and the signature are not secrets)."""
    if SECURITY_TOKEN not in cmd.ext_fields:
        return cmd
    return replace(cmd, ext_fields={**cmd.ext_fields, SECURITY_TOKEN: "***"})
