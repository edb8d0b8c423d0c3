"""/v1/models: which model versions serve. Admins list them, promote one (or roll back to an
older one: the same call) and set a challenger to score in shadow. Every API process follows
within ``model_refresh_s`` seconds, without a restart (service/model_registry.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from service import model_registry
from service.auth import Admin
from service.model_registry import ModelRegistry
from service.openapi import conflict
from service.schemas_lifecycle import ActivationOut, ModelsOut, ModelVersionOut
from service.settings import Settings

router = APIRouter(prefix="/v1/models", tags=["models"])
Version = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


def _registry(request: Request) -> ModelRegistry:
    registry: ModelRegistry = request.app.state.models
    return registry


def models_out(request: Request) -> ModelsOut:
    settings: Settings = request.app.state.settings
    engine = request.app.state.engine
    versions = model_registry.versions_in_force(engine, settings.models_dir)
    roles = {versions.champion: "champion", versions.shadow: "shadow"}
    return ModelsOut(
        champion=versions.champion,
        shadow=versions.shadow,
        refresh_s=settings.model_refresh_s,
        versions=[
            ModelVersionOut(
                version=card.version,
                role=roles.get(card.version),  # type: ignore[arg-type]
                created_at=card.created_at,
                labels=list(card.labels),
                training=dict(card.training),
                metrics=dict(card.metrics),
            )
            for card in model_registry.available(settings.models_dir)
        ],
        history=[
            ActivationOut(
                sequence=a.sequence,
                role=a.role.value,
                version=a.version,
                actor=a.actor,
                activated_at=a.activated_at,
            )
            for a in model_registry.history(engine)
        ],
    )


@router.get("", response_model=ModelsOut, summary="Model versions, which serve, and the history")
def list_models(request: Request, key: Admin) -> ModelsOut:
    return models_out(request)


@router.post(
    "/{version}/activate",
    response_model=ModelsOut,
    summary="Make a version the champion (promotion, or rollback to an older one)",
    responses=conflict("the version does not load, or the policy does not cover its labels"),
)
def activate(version: Version, request: Request, key: Admin) -> ModelsOut:
    """Checked first (its onnx file matches its card, the policy covers its labels), then
    logged; this process switches at once, every other within `refresh_s`, without a failed
    request. Decisions keep the version that made them. A shadow of this version stops."""
    _registry(request).activate(version, key.actor)
    return models_out(request)


@router.post(
    "/{version}/shadow",
    response_model=ModelsOut,
    summary="Score every video with this version too, without acting on it",
    responses=conflict("it is the champion, or it does not load"),
)
def shadow(version: Version, request: Request, key: Admin) -> ModelsOut:
    """Its scores and would-be action are logged beside each new decision (`mizan
    shadow-report` compares the two). Scoring costs about twice the model time meanwhile."""
    _registry(request).set_shadow(version, key.actor)
    return models_out(request)


@router.delete("/shadow", response_model=ModelsOut, summary="Stop scoring in shadow")
def shadow_off(request: Request, key: Admin) -> ModelsOut:
    _registry(request).set_shadow(None, key.actor)
    return models_out(request)
