"""Locating the validation tools. CI installs them first (scripts/k8s/install-tools.sh), so a missing
tool is a failure, never a skip: a skipped chart test would pass a broken chart."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
LOCAL_DIR = REPO / ".local"
SCHEMA_DIR = LOCAL_DIR / "k8s-schemas"
KUBE_VERSION = "1.30.0"


def tool(name: str) -> Path:
    local = LOCAL_DIR / "bin" / name
    if local.is_file():
        return local
    found = shutil.which(name)
    if found:
        return Path(found)
    pytest.fail(f"{name} not found in {local.parent} or on PATH: run scripts/k8s/install-tools.sh", pytrace=False)


def schema_dir(kind: str) -> Path:
    """k8s-schemas/kubernetes or k8s-schemas/crds, installed by scripts/k8s/install-tools.sh."""
    directory = SCHEMA_DIR / kind
    if not (directory / ".installed").is_file():
        pytest.fail(f"schemas missing under {directory}: run scripts/k8s/install-tools.sh", pytrace=False)
    return directory
