"""Opaque, tamper-evident page tokens.

A list's cursor (the last row's sort key) is sealed with AES-GCM under a per-deployment
secret, the org and the list's name bound in as associated data: the caller sees random
bytes, and a token edited, forged, or issued for another org or list does not open.

The secret is ``LIFTOS_TOKEN_SECRET`` when set (replicas of a service share it), otherwise
32 random bytes kept 0600 in the service's data dir and made on first use.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mesh.runtime.exceptions import InvalidInput

SECRET_ENV = "LIFTOS_TOKEN_SECRET"
SECRET_FILE = "page_token.key"
# Tokens sealed here are well under 200 characters; a longer one is refused unread.
MAX_TOKEN_CHARS = 512
_NONCE = 12
_INFO = b"liftos page tokens v1"


def page_size(requested: int, *, default: int, maximum: int, field: str = "page_size") -> int:
    """AIP-158: 0 asks for the list's default, a size above its maximum is lowered to it, a
    negative one is refused (InvalidInput naming ``field``)."""
    if requested < 0:
        raise InvalidInput(f"{field} must not be negative, got {requested}", field=field)
    return min(requested or default, maximum)


def _derive(secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)


def _file_secret(directory: Path) -> bytes:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / SECRET_FILE
    if not path.exists():
        # written whole beside it, then linked into place (atomic, and refused when another
        # replica starting on the same new folder linked its own first): a reader never sees a
        # file created but not yet written, as with O_EXCL then write
        secret = os.urandom(32)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{SECRET_FILE}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(secret)
                out.flush()
                os.fsync(out.fileno())
            os.link(temp, path)
            return secret
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: created exclusively instead
            if (made := _create_exclusive(path, secret)) is not None:
                return made
        finally:
            os.unlink(temp)
    return _read_secret(path)


def _create_exclusive(path: Path, secret: bytes) -> bytes | None:
    """``secret`` written to a new ``path`` (O_EXCL); None when another process made it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(fd, "wb") as out:
        out.write(secret)
        out.flush()
        os.fsync(out.fileno())
    return secret


def _read_secret(path: Path) -> bytes:
    """The secret in ``path``; a short file is read again for a moment, as a replica that
    created it exclusively (no hard links) may not have written it yet."""
    for _ in range(50):
        secret = path.read_bytes()
        if len(secret) >= 32:
            return secret
        time.sleep(0.02)
    raise ValueError(f"{path} is not a page-token secret (under 32 bytes)")


class PageTokens:
    """Seals cursors into page tokens and opens them again, for one list (``purpose``)."""

    __slots__ = ("_aead", "_purpose")

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._aead = AESGCM(_derive(secret))
        self._purpose = purpose.encode()

    @classmethod
    def for_data_dir(cls, directory: Path, purpose: str) -> PageTokens:
        """The deployment's secret (``LIFTOS_TOKEN_SECRET``, else the file in ``directory``)."""
        configured = os.environ.get(SECRET_ENV, "")
        secret = configured.encode() if configured else _file_secret(directory)
        return cls(secret, purpose)

    def _aad(self, org_id: str) -> bytes:
        return self._purpose + b"\0" + org_id.encode()

    def seal(self, org_id: str, cursor: bytes) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, cursor, self._aad(org_id))
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, org_id: str, token: str, *, field: str = "page_token") -> bytes:
        """The cursor; InvalidInput when the token is not one this deployment issued for
        this org and list."""
        try:
            if len(token) > MAX_TOKEN_CHARS:
                raise ValueError("long")
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            if len(raw) <= _NONCE:
                raise ValueError("short")
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], self._aad(org_id))
        except (ValueError, binascii.Error, InvalidTag, UnicodeEncodeError):
            raise InvalidInput(
                "page_token is not a token this server issued", field=field
            ) from None

    def seal_key(self, org_id: str, key: Sequence[str | int | bool]) -> str:
        """A token over a sort key (and the request fields the next page must repeat)."""
        return self.seal(org_id, json.dumps(list(key)).encode())

    def open_key(self, org_id: str, token: str, *, field: str = "page_token") -> list[object]:
        """The key sealed by :meth:`seal_key`; InvalidInput as :meth:`open`."""
        cursor = self.open(org_id, token, field=field)
        try:
            key = json.loads(cursor)
        except ValueError:
            key = None
        if not isinstance(key, list):
            raise InvalidInput("page_token is not a token this server issued", field=field)
        return key
