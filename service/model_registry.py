"""Which model versions serve, and switching them without a restart.

The database decides (table ``model_activations``, append-only): the latest ``champion`` row
names the version that acts, the latest ``shadow`` row the challenger scored beside it (or
none). Before the first activation, ``models/ACTIVE`` names the champion. A thread in every
API process asks the database every ``refresh_s`` seconds; when the answer changes, it loads
the new version while the old one keeps serving, then swaps one reference, so a promotion or
rollback reaches every process within seconds and no request fails, waits for a load or runs a
query for it.

Activating checks first, in the caller's process, that the version loads (its onnx file
matches its card) and that the policy covers its labels: a version that cannot serve is refused
before any process tries it.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from classifier import ModelCard, OnnxScorer, active_version
from classifier.errors import ModelError
from service import metrics
from service.database import write_transaction
from service.errors import ConfigurationError, ConflictError, NotFoundError
from service.models import load_version
from service.policy import Policy
from service.tables import model_activations

log = logging.getLogger(__name__)


class ModelRole(enum.StrEnum):
    CHAMPION = "champion"  # decides and acts
    SHADOW = "shadow"  # scored beside the champion and logged, never acts


@dataclass(frozen=True, slots=True)
class Lineup:
    """The scorers in force in this process."""

    champion: OnnxScorer
    shadow: OnnxScorer | None = None


def fixed_lineup(scorer: OnnxScorer) -> Callable[[], Lineup]:
    """One model, no shadow, never switched (the simulator, tools and tests)."""
    lineup = Lineup(scorer)
    return lambda: lineup


@dataclass(frozen=True, slots=True)
class Activation:
    sequence: int
    role: ModelRole
    version: str | None
    actor: str
    activated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Versions:
    champion: str
    shadow: str | None


def versions_in_force(engine: sa.Engine, models_dir: Path) -> Versions:
    """The champion and shadow the database names (the champion: models/ACTIVE before any)."""
    with engine.connect() as connection:
        return _named(connection, models_dir)


def _named(connection: sa.Connection, models_dir: Path) -> Versions:
    champion = _latest(connection, ModelRole.CHAMPION) or active_version(models_dir)
    return Versions(champion, _latest(connection, ModelRole.SHADOW))


def history(engine: sa.Engine, limit: int = 100) -> list[Activation]:
    """The latest activations, newest first."""
    query = sa.select(model_activations).order_by(model_activations.c.sequence.desc()).limit(limit)
    with engine.connect() as connection:
        return [
            Activation(row.sequence, ModelRole(row.role), row.version, row.actor, row.activated_at)
            for row in connection.execute(query)
        ]


def available(models_dir: Path) -> list[ModelCard]:
    """Every version folder with a readable card naming that version, oldest first."""
    cards = []
    for folder in sorted(path for path in models_dir.iterdir() if path.is_dir()):
        try:
            card = ModelCard.load(folder)
        except ModelError:
            continue  # not a model folder (or a half-written one): not offered
        if card.version == folder.name:
            cards.append(card)
    return sorted(cards, key=lambda card: (card.created_at, card.version))


class ModelRegistry:
    def __init__(
        self,
        engine: sa.Engine,
        models_dir: Path,
        policy: Policy,
        *,
        threads: int = 1,
        refresh_s: float = 2.0,
        serving: bool = True,
    ) -> None:
        """``serving``: load the lineup in force now (an API process). The CLI passes False:
        it only changes what serves, so it works even when the current champion is broken."""
        self._engine = engine
        self._models_dir = models_dir
        self._policy = policy
        self._threads = threads
        self._refresh_s = refresh_s
        self._lock = threading.Lock()  # one swap at a time; requests never take it
        self._stopping = threading.Event()
        self._follower: threading.Thread | None = None
        self._broken_shadow: tuple[str, str] | None = None  # (version, card sha) not loadable
        self._lineup: Lineup | None = None
        if serving:
            self._lineup = self._load(versions_in_force(engine, models_dir))

    # serving -------------------------------------------------------------------------------

    def lineup(self) -> Lineup:
        """The scorers to use now: an attribute read, never a query or a load."""
        assert self._lineup is not None, "a registry made with serving=False serves nothing"
        return self._lineup

    def start(self) -> None:
        """Follow the database from a background thread, every refresh_s seconds."""
        if self._follower is None:
            self._stopping.clear()
            self._follower = threading.Thread(
                target=self._follow, name="model-registry", daemon=True
            )
            self._follower.start()

    def close(self) -> None:
        self._stopping.set()
        if self._follower is not None:
            self._follower.join(timeout=30)
            self._follower = None

    def refresh(self) -> Lineup:
        """Bring this process in line with the database now (loading what changed)."""
        with self._lock:
            self._swap_to(versions_in_force(self._engine, self._models_dir))
        return self.lineup()

    def _follow(self) -> None:
        while not self._stopping.wait(self._refresh_s):
            try:
                self.refresh()
            except Exception:  # the database away, a broken folder: keep serving, try again
                log.warning("models.refresh_failed", exc_info=True)

    def _swap_to(self, versions: Versions) -> None:
        if self._lineup is None:
            return  # not serving
        before = self._versions(self._lineup)
        if self._without_broken_shadow(versions, before) == before:
            return  # nothing to change (or only a shadow already known not to load)
        self._lineup = self._load(versions)
        log.info(
            "models.switched",
            extra={
                "champion": versions.champion,
                "shadow": versions.shadow,
                "previous_champion": before.champion,
                "previous_shadow": before.shadow,
            },
        )

    def _load(self, versions: Versions) -> Lineup:
        """The champion must load (else this raises and the old lineup stays); a shadow that
        does not load is left out, logged once, and not tried again until its card changes:
        a broken challenger never stops the champion from serving or switching."""
        champion = self._scorer(versions.champion)
        shadow = None
        if versions.shadow:
            try:
                shadow = self._scorer(versions.shadow)
                self._broken_shadow = None
            except (ModelError, ConfigurationError):
                self._broken_shadow = (versions.shadow, self._card_sha(versions.shadow))
                log.exception("models.shadow_not_loaded", extra={"shadow": versions.shadow})
        serving = Versions(champion.version, shadow.version if shadow else None)
        metrics.set_models(
            serving.champion, serving.shadow, self._policy.version, previous=self._current()
        )
        return Lineup(champion, shadow)

    def _without_broken_shadow(self, wanted: Versions, serving: Versions) -> Versions:
        """``wanted`` as this process can serve it: without a shadow known not to load."""
        broken = self._broken_shadow
        if wanted.shadow and broken and broken == (wanted.shadow, self._card_sha(wanted.shadow)):
            return Versions(wanted.champion, None) if serving.shadow is None else wanted
        return wanted

    def _card_sha(self, version: str) -> str:
        try:
            return ModelCard.load(self._models_dir / version).onnx_sha256
        except ModelError:
            return ""

    def _current(self) -> Versions | None:
        return self._versions(self._lineup) if self._lineup is not None else None

    def _scorer(self, version: str) -> OnnxScorer:
        scorer = load_version(self._models_dir, version, self._threads)
        if scorer.version != version:  # decisions would be logged under the wrong version
            raise ModelError(f"{self._models_dir / version} holds a card of {scorer.version}")
        self._policy.check_covers(scorer.card)
        return scorer

    @staticmethod
    def _versions(lineup: Lineup) -> Versions:
        return Versions(lineup.champion.version, lineup.shadow.version if lineup.shadow else None)

    # changing what serves ----------------------------------------------------------------

    def activate(self, version: str, actor: str) -> Versions:
        """Make ``version`` the champion (a promotion or a rollback); a shadow of the same
        version stops shadowing, since it now acts."""
        self._check_loads(version)
        with write_transaction(self._engine) as connection:
            _serialise(connection)
            now = dt.datetime.now(dt.UTC)
            _append(connection, ModelRole.CHAMPION, version, actor, now)
            shadow = _latest(connection, ModelRole.SHADOW)
            if shadow == version:
                _append(connection, ModelRole.SHADOW, None, actor, now)
        log.info("models.activated", extra={"version": version, "actor": actor})
        return self._apply_now()

    def set_shadow(self, version: str | None, actor: str) -> Versions:
        """Score every video with ``version`` too, without acting on it (None: stop)."""
        if version is not None:
            self._check_loads(version)
        with write_transaction(self._engine) as connection:
            _serialise(connection)
            champion = _named(connection, self._models_dir).champion
            if version is not None and version == champion:  # checked with writers serialised
                raise ConflictError(f"{version} is the champion; a shadow must be another version")
            _append(connection, ModelRole.SHADOW, version, actor, dt.datetime.now(dt.UTC))
        log.info("models.shadow_set", extra={"version": version, "actor": actor})
        return self._apply_now()

    def _check_loads(self, version: str) -> None:
        if "/" in version or version.startswith(".") or not (self._models_dir / version).is_dir():
            raise NotFoundError(f"no model version {version} in {self._models_dir}")
        try:
            self._scorer(version)
        except (ModelError, ConfigurationError) as exc:
            raise ConflictError(f"model {version} cannot serve: {exc}") from exc

    def _apply_now(self) -> Versions:
        """This process follows at once; the change is committed whatever happens here (the
        others follow within refresh_s)."""
        try:
            with self._lock:
                self._swap_to(versions_in_force(self._engine, self._models_dir))
        except Exception:  # committed already: say so, and let the follower try again
            log.exception("models.local_switch_failed")
        return versions_in_force(self._engine, self._models_dir)


def _append(
    connection: sa.Connection, role: ModelRole, version: str | None, actor: str, now: dt.datetime
) -> None:
    connection.execute(
        model_activations.insert().values(
            role=role.value, version=version, actor=actor, activated_at=now
        )
    )


def _serialise(connection: sa.Connection) -> None:
    """One writer of activations at a time (SQLite's write transactions already are), so the
    champion-is-not-the-shadow check and the write see the same state."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("LOCK TABLE model_activations IN SHARE ROW EXCLUSIVE MODE"))


def _latest(connection: sa.Connection, role: ModelRole) -> str | None:
    return connection.scalar(
        sa.select(model_activations.c.version)
        .where(model_activations.c.role == role.value)
        .order_by(model_activations.c.sequence.desc())
        .limit(1)
    )
