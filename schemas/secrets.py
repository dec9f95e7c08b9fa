"""Secrets at rest: the setup's client secrets and access keys, encrypted with Fernet (AES-128-CBC
and HMAC-SHA256, from the ``cryptography`` package) before they reach a row.

A secret that is only ever *compared* (web service access keys, the Sales webhook secret, the
BC webhooks' clientState) is kept as a salted hash instead (schemas/users.py). A secret the
gateway must *send* (to Entra's token endpoint, to BC as Basic) cannot be a hash: it is
encrypted, and decrypted only in memory.

Where the key comes from, first match wins:

1. ``BCGW_SECRET_KEY``: a Fernet key (``python -c "from cryptography.fernet import Fernet;
   print(Fernet.generate_key().decode())"``), or several separated by commas: the first encrypts,
   each decrypts (to change keys: put the new one first, save every secret again, drop the old);
2. ``BCGW_SECRET_KEY_FILE``: a file holding such a key; made (mode 0600) on first use if absent;
3. otherwise a key file made on first use: next to a SQLite database (``bcgw.db`` →
   ``bcgw.db.key``), or ``$XDG_CONFIG_HOME/bc-gateway/secret.key`` (``~/.config/...``) for
   PostgreSQL. Several hosts sharing one PostgreSQL database must share the key: give each
   ``BCGW_SECRET_KEY`` (or the same key file).

Stored values read ``enc:v1:<Fernet token>``; an empty secret stays empty (nothing to hide, and no
key is needed for it). Losing the key loses the secrets, nothing else: enter them again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import URL, make_url

log = logging.getLogger("bcgw.secrets")

ENV_KEY = "BCGW_SECRET_KEY"
ENV_KEY_FILE = "BCGW_SECRET_KEY_FILE"
PREFIX = "enc:v1:"


class SecretKeyError(RuntimeError):
    """The key cannot be had, or does not open a stored secret; the message says what to do."""


def default_key_file(database_url: str | URL, environ: Mapping[str, str] | None = None) -> Path:
    """Where the key file lives when neither variable names one."""
    env = os.environ if environ is None else environ
    url = make_url(database_url) if isinstance(database_url, str) else database_url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db = Path(url.database)
        return db.with_name(db.name + ".key")
    config_home = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "bc-gateway" / "secret.key"


def _parse_keys(text: str, where: str) -> MultiFernet:
    keys = [part.strip() for part in text.split(",") if part.strip()]
    if not keys:
        raise SecretKeyError(f"{where} holds no key.")
    try:
        return MultiFernet([Fernet(key.encode("ascii")) for key in keys])
    except (ValueError, UnicodeEncodeError):
        raise SecretKeyError(
            f"{where} is not a Fernet key (32 bytes in URL-safe base64, 44 characters); "
            'make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        ) from None


def _read_or_make_key_file(path: Path) -> str:
    """The key in `path`; a new one written there (0600) if the file does not exist yet.

    Two processes starting at once must end up with the same key: the new key is written to a
    private temporary file and linked into place, which fails if another process got there first."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(Fernet.generate_key().decode("ascii") + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
                log.warning("made a new secret key file %s (keep it: the stored secrets need it)", path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the secret key file %s can be read by others (mode %o): chmod 600 it", path, mode & 0o777)
    return path.read_text(encoding="ascii").strip()


class SecretBox:
    """Encrypts and decrypts the setup's secrets. The key is found on first need, not before:
    a setup without secrets never makes a key file."""

    def __init__(self, database_url: str | URL, environ: Mapping[str, str] | None = None) -> None:
        self._url = database_url
        self._env = dict(os.environ if environ is None else environ)
        self._fernet: MultiFernet | None = None
        self._lock = threading.Lock()

    def where(self) -> str:
        """Where the key comes from, for messages (never the key)."""
        if self._env.get(ENV_KEY):
            return ENV_KEY
        return str(self._key_file())

    def _key_file(self) -> Path:
        given = self._env.get(ENV_KEY_FILE)
        return Path(given).expanduser() if given else default_key_file(self._url, self._env)

    def _key(self) -> MultiFernet:
        with self._lock:
            if self._fernet is None:
                text = self._env.get(ENV_KEY)
                if text:
                    self._fernet = _parse_keys(text, ENV_KEY)
                else:
                    path = self._key_file()
                    try:
                        self._fernet = _parse_keys(_read_or_make_key_file(path), str(path))
                    except OSError as exc:
                        raise SecretKeyError(
                            f"The secret key file {path} cannot be read or made ({exc.strerror or exc}); "
                            f"set {ENV_KEY} or {ENV_KEY_FILE}."
                        ) from None
            return self._fernet

    def encrypt(self, secret: str) -> str:
        if not secret:
            return ""
        return PREFIX + self._key().encrypt(secret.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        if not stored:
            return ""
        if not stored.startswith(PREFIX):
            # Written before secrets were encrypted (the migration encrypts what it finds).
            return stored
        try:
            return self._key().decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretKeyError(
                f"A stored secret cannot be opened with the key from {self.where()}: it was saved with another "
                f"key. Set {ENV_KEY} to that key, or enter the secret again with bc-gateway setup."
            ) from None


_BOXES: dict[tuple[str, str, str], SecretBox] = {}
_BOXES_LOCK = threading.Lock()


def secret_box(database_url: str | URL) -> SecretBox:
    """The box for a database, by the current environment (one per key source, shared)."""
    url = make_url(database_url) if isinstance(database_url, str) else database_url
    env = os.environ
    # The URL without its password is enough to tell key files apart.
    ident = (url.render_as_string(hide_password=True), env.get(ENV_KEY, ""), env.get(ENV_KEY_FILE, ""))
    with _BOXES_LOCK:
        box = _BOXES.get(ident)
        if box is None:
            box = _BOXES[ident] = SecretBox(url)
        return box
