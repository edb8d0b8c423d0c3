"""API keys: created once, shown once, stored as sha256 digests, carrying roles.

A key looks like ``mz_<key id>_<secret>``. The key id is public (it names the key in logs and
in ``mizan keys list``); the secret is 32 random bytes. Keys are random, so a plain sha256 is
enough (no password hashing): guessing a 256-bit secret is hopeless whatever the hash costs.
Presented keys are compared by digest with `hmac.compare_digest`; keys are never logged.

Authenticated keys are cached in-process for ``cache_s`` seconds, so a revocation takes
effect everywhere within that time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from service.domain import Role
from service.errors import AuthenticationError, InvalidRequestError, NotFoundError
from service.tables import api_keys

_KEY = re.compile(r"^mz_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    roles: frozenset[Role]
    languages: tuple[str, ...]
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def actor(self) -> str:
        return f"{self.name}#{self.key_id}"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    def __init__(self, engine: sa.Engine, cache_s: float = 10.0) -> None:
        self._engine = engine
        self._cache_s = cache_s
        self._cache: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    def create(
        self, name: str, roles: Iterable[Role], languages: Iterable[str], now: dt.datetime
    ) -> tuple[ApiKey, str]:
        """A new key and its plaintext, which is not stored and cannot be shown again."""
        roles = frozenset(roles)
        languages = tuple(sorted(set(languages)))
        if not roles:
            raise InvalidRequestError("a key needs at least one role")
        if not name.strip() or len(name) > 128:
            raise InvalidRequestError("a key needs a name of 1 to 128 characters")
        for language in languages:
            if not LANGUAGE.match(language):
                raise InvalidRequestError(f"not a BCP 47 language tag: {language!r}")
        key_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
        plaintext = f"mz_{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id, name, roles, languages, now)
        with self._engine.begin() as connection:
            connection.execute(
                api_keys.insert().values(
                    key_id=key_id,
                    key_sha256=_digest(plaintext),
                    name=name,
                    roles=sorted(role.value for role in roles),
                    languages=list(languages),
                    created_at=now,
                )
            )
        return key, plaintext

    def authenticate(self, presented: str) -> ApiKey:
        match = _KEY.match(presented)
        if not match:
            raise AuthenticationError("malformed API key")
        digest = _digest(presented)
        with self._lock:
            cached = self._cache.get(digest)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(api_keys).where(api_keys.c.key_id == match.group(1))
            ).one_or_none()
        if row is None or not hmac.compare_digest(row.key_sha256, digest):
            raise AuthenticationError("unknown API key")
        if row.revoked_at is not None:
            raise AuthenticationError("revoked API key")
        key = _key(row._mapping)
        with self._lock:
            self._cache[digest] = (key, time.monotonic() + self._cache_s)
        return key

    def session_token(self, presented: str) -> tuple[ApiKey, str]:
        """For the console: the key and the digest its session cookie carries instead of the
        key itself (a stolen cookie is no API key; revoking the key ends the session)."""
        key = self.authenticate(presented)
        return key, _digest(presented)

    def authenticate_session(self, key_id: str, digest: str) -> ApiKey:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(api_keys).where(api_keys.c.key_id == key_id)
            ).one_or_none()
        if row is None or not hmac.compare_digest(row.key_sha256, digest):
            raise AuthenticationError("unknown API key")
        if row.revoked_at is not None:
            raise AuthenticationError("revoked API key")
        return _key(row._mapping)

    def revoke(self, key_id: str, now: dt.datetime) -> None:
        with self._engine.begin() as connection:
            result = connection.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        if result.rowcount == 0:
            raise NotFoundError(f"no active key {key_id}")
        with self._lock:
            self._cache.clear()

    def list(self) -> list[ApiKey]:
        with self._engine.connect() as connection:
            rows = connection.execute(sa.select(api_keys).order_by(api_keys.c.created_at))
            return [_key(row._mapping) for row in rows]


def _key(row: object) -> ApiKey:
    mapping = dict(row)  # type: ignore[call-overload]
    return ApiKey(
        key_id=mapping["key_id"],
        name=mapping["name"],
        roles=frozenset(Role(role) for role in mapping["roles"]),
        languages=tuple(mapping["languages"]),
        created_at=mapping["created_at"],
        revoked_at=mapping["revoked_at"],
    )
