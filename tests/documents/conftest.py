from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from documents.registry import TemplateRegistry
from tests.documents import factories

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.fixture(scope="session")
def registry() -> TemplateRegistry:
    return TemplateRegistry.load(TEMPLATES, strict=True)


@pytest.fixture
def agency():
    return factories.agency()


@pytest.fixture
def template_root(tmp_path: Path) -> Path:
    """A private copy of templates/ that a test may edit."""
    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES, root, ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
    return root
