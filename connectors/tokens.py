"""Where OAuth tokens live: one encrypted file per (system, tenant) connection.

Fernet (from `cryptography`) with the key in BACKOFFICE_TOKEN_KEY; files are written to a
temporary name and renamed, so a crash never leaves half a token file, and the rotated
refresh token is on disk before anyone uses the new access token. Reprs never show a token.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

from cryptography.fernet import Fernet, InvalidToken


class TokenStoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: float                  # epoch seconds
    needs_reauth: bool = False

    def __repr__(self) -> str:          # never a secret in a log line or a traceback
        return f"Tokens(expires_at={self.expires_at:.0f}, needs_reauth={self.needs_reauth}, <redacted>)"

    def fresh(self, skew: float, now: float | None = None) -> bool:
        return not self.needs_reauth and (now or time.time()) < self.expires_at - skew


class TokenStore(Protocol):
    def load(self, connection: str) -> Tokens | None: ...

    def save(self, connection: str, tokens: Tokens) -> None: ...

    def locked(self, connection: str) -> contextlib.AbstractContextManager: ...

    def load_mapping(self, connection: str) -> dict | None: ...

    def save_mapping(self, connection: str, mapping: dict) -> None: ...


class FernetFileStore:
    def __init__(self, directory: Path | str, key: str | bytes | None = None) -> None:
        key = key or os.environ.get("BACKOFFICE_TOKEN_KEY")
        if not key:
            raise TokenStoreError("BACKOFFICE_TOKEN_KEY is not set: generate one with "
                                  "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`")
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise TokenStoreError(f"BACKOFFICE_TOKEN_KEY is not a Fernet key: {exc}") from None
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, connection: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in connection)
        return self.dir / f"{safe}.tokens"

    def load(self, connection: str) -> Tokens | None:
        path = self._path(connection)
        if not path.exists():
            return None
        try:
            data = json.loads(self._fernet.decrypt(path.read_bytes()))
        except InvalidToken:
            raise TokenStoreError(f"token file for {connection} does not decrypt with BACKOFFICE_TOKEN_KEY") from None
        return Tokens(**data)

    def save(self, connection: str, tokens: Tokens) -> None:
        path = self._path(connection)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(self._fernet.encrypt(json.dumps(tokens.__dict__).encode()))
        os.chmod(tmp, 0o600)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def load_mapping(self, connection: str) -> dict | None:
        """The connection's per-company mapping (connectors.mapping), stored beside its tokens."""
        path = self._path(connection).with_suffix(".mapping")
        if not path.exists():
            return None
        try:
            return json.loads(self._fernet.decrypt(path.read_bytes()))
        except InvalidToken:
            raise TokenStoreError(f"mapping file for {connection} does not decrypt with BACKOFFICE_TOKEN_KEY") from None

    def save_mapping(self, connection: str, mapping: dict) -> None:
        path = self._path(connection).with_suffix(".mapping")
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(self._fernet.encrypt(json.dumps(mapping, sort_keys=True).encode()))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    @contextlib.contextmanager
    def locked(self, connection: str) -> Iterator[None]:
        """One refresher at a time per connection, across processes."""
        with open(self._path(connection).with_suffix(".lock"), "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
