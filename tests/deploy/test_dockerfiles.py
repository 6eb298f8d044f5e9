"""The five service Dockerfiles. No Docker engine here, so: a structural read of each file, a check
that all five stay one pattern, and a replay of the build stage's COPY/`uv sync` steps (offline, from
uv's cache) proving the locked install yields a virtualenv that can start `python -m <service>`."""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from deploy_support.chart import SERVICES
from deploy_support.tools import REPO

PORTS = {"gateway": 8080, "projects": 8081, "files": 8082, "matcher": 8083, "results": 8084}


def dockerfile(service: str) -> str:
    path: Path = REPO / "services" / service / "Dockerfile"
    return path.read_text(encoding="utf-8")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in joined.splitlines() if line.strip()]


def stage(text: str, name: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    current = None
    for instruction, args in instructions(text):
        if instruction == "FROM":
            current = args.split()[-1]
            continue
        if current == name:
            found.append((instruction, args))
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_runtime_stage_is_non_root_healthchecked_and_runs_the_service(service: str) -> None:
    text = dockerfile(service)
    froms = [args for instruction, args in instructions(text) if instruction == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    runtime = stage(text, "runtime")
    assert ("USER", "10001:10001") in runtime
    assert ("CMD", f'["python", "-m", "{service}"]') in runtime
    assert ("EXPOSE", str(PORTS[service])) in runtime
    (healthcheck,) = [args for instruction, args in runtime if instruction == "HEALTHCHECK"]
    assert f"{service.upper()}_HTTP__PORT', '{PORTS[service]}'" in healthcheck and "/healthz" in healthcheck
    assert "CMD [" in healthcheck, "exec form: no shell needed in the image"
    env = " ".join(args for instruction, args in runtime if instruction == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and f"{service.upper()}_HTTP__HOST=0.0.0.0" in env
    # Only the built virtualenv reaches the runtime image, owned by root (read-only to uid 10001).
    copies = [args for instruction, args in runtime if instruction == "COPY"]
    assert copies == ["--from=build /app/.venv /app/.venv"]
    assert not any(instruction == "ADD" for instruction, _ in instructions(text))


def normalised(service: str) -> str:
    """The Dockerfile with its own name and port abstracted. Workspace-manifest COPY lines are left
    alone (they list all five members in every file); files alone may add its storage directory."""
    lines = []
    for line in dockerfile(service).splitlines(keepends=True):
        if "pyproject.toml" not in line:
            line = re.sub(rf"(?<![A-Za-z_]){service}(?![A-Za-z_])", "svc", line)
            line = re.sub(rf"(?<![A-Za-z_]){service.upper()}_", "SVC_", line).replace(str(PORTS[service]), "PORT")
        lines.append(line)
    text = "".join(lines)
    return re.sub(r" \\\n    && install -d [^\n]*| \\\n    SVC_STORAGE__ROOT=[^\n]*", "", text)


def test_all_five_dockerfiles_follow_one_pattern() -> None:
    reference = normalised("matcher")
    for service in SERVICES:
        assert normalised(service) == reference, f"services/{service}/Dockerfile drifted from the others"


def test_build_copies_every_workspace_manifest() -> None:
    """uv needs every member's pyproject.toml to read the workspace, even to install one member."""
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    members = sorted(str(path.parent.relative_to(REPO)) for pattern in root["tool"]["uv"]["workspace"]["members"]
                     for path in REPO.glob(f"{pattern}/pyproject.toml"))
    copied = {source for instruction, args in stage(dockerfile("matcher"), "build") if instruction == "COPY"
              for source in args.split()[:-1]}
    assert {f"{member}/pyproject.toml" for member in members} <= copied
    assert {"pyproject.toml", "uv.lock"} <= copied


def ignored_names() -> tuple[set[str], set[str]]:
    """.dockerignore as (names ignored at any depth, top-level paths ignored)."""
    anywhere: set[str] = set()
    top: set[str] = set()
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        (anywhere if line.startswith("**/") else top).add(line.removeprefix("**/"))
    return anywhere, top


def copy_context(source: str, target: Path) -> None:
    anywhere, _ = ignored_names()
    origin = REPO / source
    if origin.is_dir():
        shutil.copytree(origin, target, dirs_exist_ok=True, ignore=lambda _, names: [
            name for name in names if any(fnmatch.fnmatch(name, pattern) for pattern in anywhere)])
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target)


@pytest.mark.parametrize("service", SERVICES)
def test_build_stage_replays_into_a_working_virtualenv(service: str, tmp_path: Path) -> None:
    """COPY and `uv sync` exactly as the Dockerfile orders them, offline against uv's cache."""
    workdir, venv = tmp_path / "src", tmp_path / "venv"
    workdir.mkdir()
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never",
           "UV_OFFLINE": "1", "UV_LINK_MODE": "hardlink", "UV_COMPILE_BYTECODE": "0", "VIRTUAL_ENV": ""}
    ran_sync = 0
    for instruction, args in stage(dockerfile(service), "build"):
        if instruction == "COPY":
            *sources, destination = args.split()
            for source in sources:
                target = workdir / (destination.rstrip("/") if len(sources) == 1 and not destination.endswith("/")
                                    else Path(destination) / Path(source).name)
                copy_context(source, target if destination != "./" else workdir / source)
        elif instruction == "RUN" and "uv sync" in args:
            command = shlex.split(args[args.index("uv sync"):])
            completed = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
            assert completed.returncode == 0, completed.stderr
            ran_sync += 1
    assert ran_sync == 2, "dependencies layer, then the code layer"
    assert not (workdir / "services" / service / "tests").exists(), ".dockerignore keeps tests out"
    python = venv / "bin" / "python"
    probe = (f"import importlib.util, {service}, platform_common.topics; "
             f"assert importlib.util.find_spec('{service}.__main__'); "
             "assert importlib.util.find_spec('pytest') is None, 'dev dependencies leaked into the image'; "
             f"print({service}.__file__)")
    completed = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120,
                               env={"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    # Installed non-editable: the code lives in the virtualenv, not in the build's source tree.
    assert str(venv) in completed.stdout
