"""``Dockerfile.api``/``Dockerfile.worker`` and ``gunicorn.conf.py``."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from gunicorn.app.base import Application

from tests.deploy.files import (
    DOCKERFILES,
    ROOT,
    dockerfile_cmd,
    dockerfile_instructions,
    dockerignore_excludes,
    exec_form,
    final_stage,
    service,
)

# ---- Dockerfiles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_runs_as_a_user_with_a_healthcheck(name: str) -> None:
    stage = final_stage(ROOT / name)
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users, f"{name} runs as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, f"{name} runs as root"
    assert any(keyword == "HEALTHCHECK" and args != "NONE" for keyword, args in stage), name


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_copies_what_exists(name: str) -> None:
    for keyword, args in dockerfile_instructions(ROOT / name):
        if keyword not in {"COPY", "ADD"}:
            continue
        words = exec_form(args) if args.startswith("[") else args.split()
        flags = [word for word in words if word.startswith("--")]
        if any(flag.startswith("--from") for flag in flags):
            continue
        sources = [word for word in words if not word.startswith("--")][:-1]
        assert sources, f"{name}: {keyword} {args}"
        for source in sources:
            assert (ROOT / source).exists(), f"{name}: COPY source {source} is missing"
            assert not dockerignore_excludes(source), f"{name}: .dockerignore drops {source}"


def copied_into_image(name: str) -> set[str]:
    copied = set()
    for keyword, args in final_stage(ROOT / name):
        words = args.split()
        if keyword == "COPY" and not any(word.startswith("--from") for word in words):
            copied |= {word.rstrip("/") for word in words[:-1] if not word.startswith("--")}
    return copied


def test_dockerfile_commands_exist_in_the_image() -> None:
    from manage import cli

    api_cmd = dockerfile_cmd(ROOT / "Dockerfile.api")
    assert api_cmd[0] == "gunicorn" and "wsgi:app" in api_cmd
    # gunicorn reads ./gunicorn.conf.py from the working directory.
    assert {"wsgi.py", "gunicorn.conf.py", "manage.py", "app", "common"} <= copied_into_image(
        "Dockerfile.api"
    )
    worker_cmd = dockerfile_cmd(ROOT / "Dockerfile.worker")
    assert worker_cmd[:2] == ["python", "manage.py"] and worker_cmd[2] in cli.commands
    assert {"manage.py", "worker", "common"} <= copied_into_image("Dockerfile.worker")


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_healthcheck_code_runs_against_this_code(name: str) -> None:
    """The ``python -c`` of each HEALTHCHECK parses and imports only what exists."""
    stage = final_stage(ROOT / name)
    (check,) = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    command = exec_form(check[check.index("CMD") + len("CMD") :].strip())
    assert command[:2] == ["python", "-c"], name
    tree = ast.parse(command[2])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{name}: {node.module}.{alias.name}"
    urls = re.findall(r"http://127\.0\.0\.1:(\d+)(/[\w/]*)", command[2])
    if urls:
        from app import health

        app = Flask(__name__)
        app.register_blueprint(health.bp)
        routes = {rule.rule for rule in app.url_map.iter_rules()}
        for port, path in urls:
            assert int(port) == 3100 and path in routes, f"{name}: {port}{path}"


# ---- gunicorn.conf.py ----------------------------------------------------------------------------


class _ConfigFileOnly(Application):
    """gunicorn's own loader for a config file, without reading the command line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(prog="gunicorn")

    def load_config(self) -> None:
        self.load_config_from_file(str(self.path))

    def load(self) -> None:
        raise AssertionError("not an app")


def load_gunicorn_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Any:
    for key in ("PORT", "WEB_CONCURRENCY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # The file creates a metrics folder (and exports its name) unless one is set: keep both
    # inside the test, and gunicorn's "__config__" module out of sys.modules afterwards.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "__config__", None)
    return _ConfigFileOnly(ROOT / "gunicorn.conf.py").cfg


def test_gunicorn_config_loads_with_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfg = load_gunicorn_config(monkeypatch, tmp_path)
    assert cfg.bind == ["0.0.0.0:3100"]
    assert cfg.workers == 2
    assert cfg.worker_class_str == "sync"
    assert cfg.timeout == 30
    assert cfg.graceful_timeout == 30
    assert cfg.keepalive == 5
    assert callable(cfg.child_exit) and callable(cfg.on_exit)


def test_gunicorn_config_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfg = load_gunicorn_config(monkeypatch, tmp_path, PORT="4000", WEB_CONCURRENCY="5")
    assert cfg.bind == ["0.0.0.0:4000"]
    assert cfg.workers == 5
    # compose stops the API after stop_grace_period: longer than gunicorn's graceful timeout.
    grace = service("api")["stop_grace_period"]
    assert int(grace.rstrip("s")) > cfg.graceful_timeout


def test_gunicorn_config_names_only_gunicorn_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """gunicorn ignores unknown names silently: a misspelt setting would never apply."""
    cfg = load_gunicorn_config(monkeypatch, tmp_path)
    tree = ast.parse((ROOT / "gunicorn.conf.py").read_text())
    names = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    } | {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    public = {name for name in names if not name.startswith("_")}
    assert public, "no settings found"
    assert public <= set(cfg.settings), f"not gunicorn settings: {public - set(cfg.settings)}"
