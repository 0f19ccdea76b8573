"""Where OAuth tokens live: one encrypted file per (system, tenant) connection.

Fernet (from `cryptography`) with the keys in BACKOFFICE_TOKEN_KEY (comma-separated, newest
first: the first encrypts, every one decrypts, see `rotate`); files are written to a private
temporary file and renamed, so a crash never leaves half a token file, and the rotated
refresh token is on disk before anyone uses the new access token. Reprs never show a token.

A file's name is the connection name escaped, never replaced (`acme/eu`, `acme_eu` and
`acme eu` are three files): lowercase letters, digits, `-` and `_` stay, every other byte of
its UTF-8 is `%XX` (upper case letters too, so a case-insensitive disk keeps `Acme` and `acme`
apart). Files, lock files and the directory are private to the owner (0600 / 0700).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol
from urllib.parse import unquote

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)


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


SUFFIX = ".tokens"
_SAFE = "abcdefghijklmnopqrstuvwxyz0123456789-_"
_MAX_NAME = 200          # file names stay under the usual 255-byte limit


def file_stem(connection: str) -> str:
    """The connection name as a file name: reversible (`connection_of`), so distinct names never collide.
    (urllib's quote() would keep upper case letters, "." and "~": hence this.)"""
    raw = connection.encode("utf-8", "surrogatepass")
    stem = "".join(chr(b) if chr(b) in _SAFE else f"%{b:02X}" for b in raw)
    if len(stem) > _MAX_NAME or not connection:
        raise TokenStoreError(f"connection name of {len(connection)} characters is empty or too long for a file name")
    return stem


def connection_of(stem: str) -> str:
    return unquote(stem, errors="surrogatepass")


def legacy_stem(connection: str) -> str:
    """How files were named before: other characters replaced by "_", so several names shared one file."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in connection)


def fernet_keys(raw: str | bytes | None) -> MultiFernet:
    """MultiFernet over comma-separated keys, newest first; TokenStoreError names the problem."""
    if isinstance(raw, bytes):
        raw = raw.decode()
    keys = [k.strip() for k in (raw or "").split(",") if k.strip()]
    if not keys:
        raise TokenStoreError("BACKOFFICE_TOKEN_KEY is not set: generate one with "
                              "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise TokenStoreError(f"BACKOFFICE_TOKEN_KEY holds a value that is not a Fernet key: {exc}") from None


def _configured_key() -> str | None:
    from infra.settings import load_settings

    key = load_settings().token_key
    return key.get_secret_value() if key is not None else None


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, never readable by anyone else, not even for a moment."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class FernetFileStore:
    def __init__(self, directory: Path | str, key: str | bytes | None = None) -> None:
        self._fernet = fernet_keys(key or _configured_key())
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)

    def _path(self, connection: str) -> Path:
        return self.dir / f"{file_stem(connection)}{SUFFIX}"

    def _adopt_legacy(self, connection: str, path: Path) -> None:
        """Move a file of the old naming to the new name, only when it can be nobody else's: its old
        name is the connection name itself (nothing was replaced). `acme/eu` never takes `acme_eu`'s."""
        old = self.dir / f"{legacy_stem(connection)}{SUFFIX}"
        if old == path or not old.is_file():
            return
        if legacy_stem(connection) != connection:
            log.warning("token file %s may belong to another tenant of the old naming; not used for %s: "
                        "run `backoffice connect` for it", old.name, connection)
            return
        os.chmod(old, 0o600)
        try:
            os.link(old, path)      # never over a file a concurrent save just wrote (called under `locked` too)
        except (FileExistsError, FileNotFoundError):
            return
        old.unlink(missing_ok=True)
        log.info("token file %s renamed to %s (escaped naming)", old.name, path.name)

    def load(self, connection: str) -> Tokens | None:
        path = self._path(connection)
        if not path.exists():
            self._adopt_legacy(connection, path)
            if not path.exists():
                return None
        try:
            data = json.loads(self._fernet.decrypt(path.read_bytes()))
        except InvalidToken:
            raise TokenStoreError(f"token file for {connection} does not decrypt with any key in "
                                  "BACKOFFICE_TOKEN_KEY") from None
        return Tokens(**data)

    def save(self, connection: str, tokens: Tokens) -> None:
        _write_private(self._path(connection), self._fernet.encrypt(json.dumps(tokens.__dict__).encode()))

    def connections(self) -> list[str]:
        """Every connection with a token file (of the escaped naming)."""
        return sorted(connection_of(p.name[:-len(SUFFIX)]) for p in self.dir.glob(f"*{SUFFIX}")
                      if not p.name.startswith("."))

    def rotate(self) -> list[str]:
        """Re-encrypt every token file with the first key of BACKOFFICE_TOKEN_KEY (MultiFernet.rotate),
        each under its connection's lock; afterwards the older keys can be dropped. Returns the connections."""
        done = []
        for connection in self.connections():
            with self.locked(connection):
                path = self._path(connection)
                try:
                    for each in (path, path.with_suffix(".mapping")):    # the mapping is encrypted beside the tokens
                        if each.exists():
                            _write_private(each, self._fernet.rotate(each.read_bytes()))
                except InvalidToken:
                    raise TokenStoreError(f"token file for {connection} does not decrypt with any key in "
                                          "BACKOFFICE_TOKEN_KEY; nothing after it was rotated") from None
            done.append(connection)
        return done

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
        _write_private(self._path(connection).with_suffix(".mapping"),
                       self._fernet.encrypt(json.dumps(mapping, sort_keys=True).encode()))

    @contextlib.contextmanager
    def locked(self, connection: str) -> Iterator[None]:
        """One refresher at a time per connection, across processes."""
        fd = os.open(self.dir / f"{file_stem(connection)}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
