"""The deployment files, checked without a Docker engine or any service.

``docker-compose.yml``, ``Dockerfile.api``/``Dockerfile.worker``, ``gunicorn.conf.py`` and
``kibana/saved_objects.ndjson`` are read as files: what they name must exist in the code (files,
modules, CLI commands, mapped fields), and the start order, ports, scaling and durability
settings the README promises must be there. When a ``docker compose`` binary is installed, its own
parser validates the file too (it needs no daemon); otherwise that one test says it was skipped.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from gunicorn.app.base import Application

from common.config import load_settings
from common.index_template import MAPPINGS

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
SAVED_OBJECTS = ROOT / "kibana" / "saved_objects.ndjson"
DOCKERFILES = ("Dockerfile.api", "Dockerfile.worker")

SERVICES = {"redis", "elasticsearch", "init-index", "api", "log-worker", "kibana", "kibana-setup"}
HOST_PORTS = {
    "redis": [(6380, 6379)],
    "elasticsearch": [(9201, 9200)],
    "kibana": [(5602, 5601)],
    "api": [(3100, 3100)],
}
ONE_SHOTS = {"init-index", "kibana-setup"}
SAVED_OBJECT_TYPES = {"index-pattern", "lens", "visualization", "dashboard"}
# Field types Elasticsearch aggregates on (doc values); ``text`` and ``flattened`` roots are not.
AGGREGATABLE = {"keyword", "date", "date_nanos", "long", "integer", "short", "byte", "double"}
AGGREGATABLE |= {"float", "half_float", "scaled_float", "boolean", "ip", "unsigned_long"}
LENS_RECORDS = "___records___"  # Lens' "count of records": no field
DASHBOARD_COLUMNS = 48


# ---- helpers ---------------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"][name]
    return found


def interpolate(value: str) -> str:
    """Compose's ``$$``, ``${VAR:-default}`` and ``${VAR}``, with every variable unset."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return match.group(1) or ""

    return re.sub(r"\$\$|\$\{\w+(?::?-([^}]*))?\}", substitute, value)


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: interpolate(str(value)) for key, value in env.items()}


def published_ports(name: str) -> list[tuple[int, int]]:
    """(host, container) pairs; short syntax ``"HOST:CONTAINER"`` or the long one."""
    pairs = []
    for port in service(name).get("ports", []):
        if isinstance(port, dict):
            pairs.append((int(port["published"]), int(port["target"])))
        else:
            *_, host, target = str(port).split(":")
            pairs.append((int(host), int(target.split("/")[0])))
    return pairs


def depends_on(name: str) -> dict[str, str]:
    deps = service(name).get("depends_on", {})
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {dep: spec.get("condition", "service_started") for dep, spec in deps.items()}


def dockerfile_of(name: str) -> Path | None:
    build = service(name).get("build")
    if build is None:
        return None
    if isinstance(build, str):
        return ROOT / build / "Dockerfile"
    return ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")


def own_image_services() -> dict[str, Path]:
    """Services that run one of the project's images, with its Dockerfile (build or image tag)."""
    built = {name: path for name in SERVICES if (path := dockerfile_of(name))}
    tags = {service(name).get("image"): path for name, path in built.items()}
    others = {name: tags.get(service(name).get("image")) for name in SERVICES - set(built)}
    return built | {name: path for name, path in others.items() if path}


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comments dropped."""
    instructions, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line[:-1].strip()}" if line.endswith("\\") else f"{pending} {line}"
        if not line.endswith("\\"):
            keyword, _, args = pending.strip().partition(" ")
            instructions.append((keyword.upper(), args.strip()))
            pending = ""
    return instructions


def final_stage(path: Path) -> list[tuple[str, str]]:
    instructions = dockerfile_instructions(path)
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def exec_form(args: str) -> list[str]:
    """A CMD/ENTRYPOINT/HEALTHCHECK CMD as a list: JSON form, or shell form split by words."""
    if args.startswith("["):
        parsed = json.loads(args)
        assert all(isinstance(word, str) for word in parsed)
        return list(parsed)
    return shlex.split(args)


def dockerfile_cmd(path: Path) -> list[str]:
    cmds = [args for keyword, args in final_stage(path) if keyword == "CMD"]
    assert cmds, f"{path.name} has no CMD"
    return exec_form(cmds[-1])


def effective_command(name: str) -> list[str]:
    command = service(name).get("command")
    if command is None:
        dockerfile = own_image_services()[name]
        return dockerfile_cmd(dockerfile)
    return command if isinstance(command, list) else shlex.split(command)


def dockerignore_excludes(source: str) -> bool:
    """Whether .dockerignore keeps ``source`` (or a folder holding it) out of the build context.

    Approximates Docker's rules (Go filepath.Match, ``**``, ``!`` exceptions, last match wins);
    Python's ``*`` also crosses ``/``, which can only make this stricter.
    """
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    parts = Path(source.rstrip("/")).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(
            fnmatch.fnmatchcase(path, pattern)
            or fnmatch.fnmatchcase(path, pattern.replace("**/", ""))
            for path in candidates
        ):
            excluded = not negate
    return excluded


@cache
def saved_objects() -> list[dict[str, Any]]:
    objects = []
    for number, line in enumerate(SAVED_OBJECTS.read_text().splitlines(), start=1):
        assert line.strip(), f"line {number} is blank: NDJSON has one object a line"
        parsed = json.loads(line)
        assert isinstance(parsed, dict), f"line {number} is not a JSON object"
        objects.append(parsed)
    return objects


def objects_of(*types: str) -> list[dict[str, Any]]:
    return [obj for obj in saved_objects() if obj["type"] in types]


def mapped_fields(properties: dict[str, Any] | None = None, prefix: str = "") -> dict[str, str]:
    """Every field of the index mapping by its dotted name, multi-fields included: its type."""
    if properties is None:
        properties = MAPPINGS["properties"]
    fields: dict[str, str] = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            fields |= mapped_fields(spec["properties"], f"{path}.")
        else:
            fields[path] = spec.get("type", "object")
        for sub, sub_spec in spec.get("fields", {}).items():
            fields[f"{path}.{sub}"] = sub_spec["type"]
    return fields


def field_type(name: str) -> str | None:
    """A mapped field's type; a key under a ``flattened`` field is a keyword."""
    fields = mapped_fields()
    if name in fields:
        return fields[name]
    for root, kind in fields.items():
        if kind == "flattened" and name.startswith(f"{root}."):
            return "keyword"
    return None


def kql_fields(query: str) -> set[str]:
    """Field names a KQL/Lucene query names (``field : value``, ``field >= 1``)."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)
    return set(re.findall(r"([A-Za-z_@][\w.@]*)\s*(?::|<=|>=|<|>)", without_strings))


def lens_columns(obj: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(layer id, column id, column) of a Lens object's form-based layers."""
    layers = obj["attributes"]["state"]["datasourceStates"].get("formBased", {}).get("layers", {})
    for layer_id, layer in layers.items():
        for column_id, column in layer["columns"].items():
            yield layer_id, column_id, column


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# ---- docker-compose.yml ------------------------------------------------------------------------


def test_compose_declares_the_stack() -> None:
    assert set(compose()["services"]) == SERVICES
    declared_volumes = set(compose().get("volumes") or {})
    for name in SERVICES:
        for volume in service(name).get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared_volumes, f"{name}: volume {source} is not declared"


def test_every_build_and_bind_mount_exists() -> None:
    for name in SERVICES:
        dockerfile = dockerfile_of(name)
        if dockerfile is not None:
            assert dockerfile.is_file(), f"{name}: {dockerfile} is missing"
        for volume in service(name).get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: bind mount {source} is missing"


def test_host_ports() -> None:
    """The published ports, and none for the rest (a scaled worker must not claim one)."""
    for name in SERVICES:
        assert published_ports(name) == HOST_PORTS.get(name, []), name


def test_log_worker_scales_and_serves_metrics_inside_the_network_only() -> None:
    worker = service("log-worker")
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "hostname" not in worker
    port = load_settings(environment("log-worker")).worker_metrics_port
    assert port == 9102
    assert [str(exposed) for exposed in worker.get("expose", [])] == [str(port)]


def test_redis_keeps_an_append_only_file_synced_every_second() -> None:
    command = effective_command("redis")
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "everysec"
    assert any(str(v).endswith(":/data") for v in service("redis")["volumes"]), "AOF on a volume"


def test_healthchecks() -> None:
    for name in ("redis", "elasticsearch", "kibana"):
        check = service(name).get("healthcheck", {})
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), name
    assert "/api/status" in " ".join(service("kibana")["healthcheck"]["test"])
    for name in ("api", "log-worker"):
        check = service(name).get("healthcheck")
        if check is not None:
            assert check.get("test") and not check.get("disable"), name
        else:
            stage = final_stage(own_image_services()[name])
            healthchecks = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
            assert healthchecks, f"{name}: no healthcheck in compose or its Dockerfile"
            assert healthchecks[-1].upper() != "NONE", name


def test_start_order() -> None:
    for name in ("api", "log-worker"):
        assert depends_on(name) == {
            "redis": "service_healthy",
            "elasticsearch": "service_healthy",
            "init-index": "service_completed_successfully",
        }, name
    assert depends_on("init-index") == {"elasticsearch": "service_healthy"}
    assert depends_on("kibana") == {"elasticsearch": "service_healthy"}
    assert depends_on("kibana-setup") == {"kibana": "service_healthy"}


def test_dependencies_are_sound() -> None:
    """Every condition can be met: healthy needs a healthcheck, completed needs a one-shot."""
    own = own_image_services()
    for name in SERVICES:
        for dep, condition in depends_on(name).items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            if condition == "service_healthy":
                has_check = "healthcheck" in service(dep) or (
                    dep in own and any(k == "HEALTHCHECK" for k, _ in final_stage(own[dep]))
                )
                assert has_check, f"{name} waits for {dep} to be healthy, which has no healthcheck"
            elif condition == "service_completed_successfully":
                assert dep in ONE_SHOTS, f"{name} waits for {dep} to exit, which never does"
    for name in ONE_SHOTS:
        assert service(name)["restart"] == "no", f"{name} is a one-shot"
    for name in SERVICES - ONE_SHOTS:
        assert service(name)["restart"] == "unless-stopped", name


def test_app_services_reach_the_compose_services() -> None:
    for name in own_image_services():
        settings = load_settings(environment(name))
        assert settings.redis_url == "redis://redis:6379/0", name
        assert settings.elasticsearch_url == "http://elasticsearch:9200", name
        assert settings.index_alias == "stealthflow_develop_logs", name
    assert environment("kibana")["ELASTICSEARCH_HOSTS"] == "http://elasticsearch:9200"
    assert service("kibana")["image"] == "kibana:" + service("elasticsearch")["image"].split(":")[1]


def test_api_command_serves_wsgi_app() -> None:
    command = effective_command("api")
    assert command[0] == "gunicorn"
    assert "wsgi:app" in command
    tree = ast.parse((ROOT / "wsgi.py").read_text())
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert "app" in assigned, "wsgi.py must define app"


def test_manage_commands_of_the_images_exist() -> None:
    from manage import cli

    assert {"worker", "init-index"} <= set(cli.commands)
    assert effective_command("log-worker") == ["python", "manage.py", "worker"]
    assert effective_command("init-index") == ["python", "manage.py", "init-index"]
    for name in own_image_services():
        command = effective_command(name)
        if command[:2] == ["python", "manage.py"]:
            assert command[2] in cli.commands, f"{name}: manage.py has no command {command[2]}"


def test_kibana_setup_imports_the_saved_objects() -> None:
    setup = service("kibana-setup")
    mounts = [v.split(":") for v in setup["volumes"]]
    assert ["./kibana/saved_objects.ndjson", "/kibana/saved_objects.ndjson", "ro"] in mounts
    script = interpolate("\n".join(effective_command("kibana-setup")))
    env = environment("kibana-setup")
    assert env["KIBANA_URL"] == "http://kibana:5601"
    assert "/api/saved_objects/_import?overwrite=true" in script
    assert "kbn-xsrf: true" in script
    assert re.search(r"(--form|-F) file=@/tmp/saved_objects\.ndjson", script)
    assert '"success":true' in script, "an import answering 200 with errors must fail the step"
    # The file names the develop alias; the step rewrites it to STEALTHFLOW_ENV's.
    (data_view,) = objects_of("index-pattern")
    assert f"s/{data_view['attributes']['title']}/${{DATA_VIEW_TITLE}}/g" in script
    assert env["DATA_VIEW_TITLE"] == load_settings({"STEALTHFLOW_ENV": "develop"}).index_alias


class FakeKibana(ThreadingHTTPServer):
    """Answers ``POST /api/saved_objects/_import`` like Kibana; keeps what it was sent."""

    def __init__(self, succeed: bool) -> None:
        super().__init__(("127.0.0.1", 0), _FakeKibanaHandler)
        self.succeed = succeed
        self.imports: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _FakeKibanaHandler(BaseHTTPRequestHandler):
    server: FakeKibana

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        # Kibana refuses an upload whose file name does not end in .ndjson.
        files = {
            part.get_param("name", header="content-disposition"): (
                part.get_filename(),
                part.get_payload(decode=True),
            )
            for part in message.iter_parts()
        }
        self.server.imports.append(
            {"path": self.path, "xsrf": self.headers.get("kbn-xsrf"), "files": files}
        )
        answer = {"success": self.server.succeed, "successCount": 0, "errors": []}
        payload = json.dumps(answer, separators=(",", ":")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def run_kibana_setup(kibana: FakeKibana, tmp_path: Path, title: str) -> subprocess.CompletedProcess:
    """The kibana-setup script as compose runs it, with its container paths moved to tmp_path."""
    script = interpolate(effective_command("kibana-setup")[0])
    script = script.replace("/kibana/saved_objects.ndjson", str(SAVED_OBJECTS))
    script = script.replace("/tmp/", f"{tmp_path}/").replace("sleep 5", "sleep 0")
    thread = threading.Thread(target=kibana.serve_forever, daemon=True)
    thread.start()
    try:
        env = {"PATH": os.environ["PATH"], "KIBANA_URL": kibana.url, "DATA_VIEW_TITLE": title}
        entrypoint = service("kibana-setup")["entrypoint"]
        return subprocess.run(
            [*entrypoint, script], env=env, capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        kibana.shutdown()
        kibana.server_close()
        thread.join()


@pytest.mark.skipif(not shutil.which("curl"), reason="needs curl, as the curl image has")
def test_kibana_setup_script_imports_for_the_environment(tmp_path: Path) -> None:
    kibana = FakeKibana(succeed=True)
    run = run_kibana_setup(kibana, tmp_path, "stealthflow_staging_logs")
    assert run.returncode == 0, run.stdout + run.stderr
    (sent,) = kibana.imports
    assert sent["path"] == "/api/saved_objects/_import?overwrite=true"
    assert sent["xsrf"] == "true"
    filename, content = sent["files"]["file"]
    assert filename.endswith(".ndjson")
    objects = [json.loads(line) for line in content.decode().splitlines()]
    assert [obj["id"] for obj in objects] == [obj["id"] for obj in saved_objects()]
    (data_view,) = [obj for obj in objects if obj["type"] == "index-pattern"]
    assert data_view["attributes"]["title"] == "stealthflow_staging_logs"


@pytest.mark.skipif(not shutil.which("curl"), reason="needs curl, as the curl image has")
def test_kibana_setup_script_fails_when_kibana_refuses(tmp_path: Path) -> None:
    """Kibana answers 200 with ``success: false`` when objects fail: the step must not pass."""
    kibana = FakeKibana(succeed=False)
    run = run_kibana_setup(kibana, tmp_path, "stealthflow_develop_logs")
    assert run.returncode == 1
    assert len(kibana.imports) == 10
    assert "import attempt 10 failed" in run.stdout


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


# ---- kibana/saved_objects.ndjson -----------------------------------------------------------------


def test_saved_objects_are_ndjson_of_known_types() -> None:
    assert SAVED_OBJECTS.read_text().endswith("\n")
    kinds = set()
    ids = set()
    for obj in saved_objects():
        assert {"type", "id", "attributes", "references"} <= set(obj), obj.get("id")
        assert obj["type"] in SAVED_OBJECT_TYPES, obj["type"]
        assert isinstance(obj["references"], list)
        assert (obj["type"], obj["id"]) not in ids, f"duplicate id {obj['id']}"
        ids.add((obj["type"], obj["id"]))
        kinds.add(obj["type"])
    assert {"index-pattern", "dashboard"} <= kinds
    assert kinds & {"lens", "visualization"}


def test_saved_objects_are_not_newer_than_the_kibana_they_go_to() -> None:
    """Kibana refuses to import an object whose migration version is newer than its own."""
    kibana = version_tuple(service("kibana")["image"].split(":")[1])
    for obj in saved_objects():
        for key in ("coreMigrationVersion", "typeMigrationVersion"):
            if key in obj:
                assert version_tuple(obj[key]) <= kibana, f"{obj['id']}: {key} {obj[key]}"


def test_data_view_is_the_alias_on_timestamp() -> None:
    (data_view,) = objects_of("index-pattern")
    attributes = data_view["attributes"]
    assert attributes["title"] == load_settings({}).index_alias == "stealthflow_develop_logs"
    assert attributes["timeFieldName"] == "@timestamp"
    assert field_type("@timestamp") == "date"


def test_every_reference_resolves_in_the_file() -> None:
    present = {(obj["type"], obj["id"]) for obj in saved_objects()}
    for obj in saved_objects():
        for reference in obj["references"]:
            assert {"id", "name", "type"} <= set(reference), obj["id"]
            target = (reference["type"], reference["id"])
            assert target in present, f"{obj['id']} references missing {target}"


def test_lens_layers_reference_the_data_view() -> None:
    (data_view,) = objects_of("index-pattern")
    lens = objects_of("lens")
    assert lens
    for obj in lens:
        references = {ref["name"]: ref for ref in obj["references"]}
        layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
        assert layers, obj["id"]
        for layer_id in layers:
            reference = references[f"indexpattern-datasource-layer-{layer_id}"]
            assert (reference["type"], reference["id"]) == ("index-pattern", data_view["id"])


def accessors(visualization: Any) -> Iterator[str]:
    """Column ids a Lens visualization state points at, wherever they sit in it."""
    if isinstance(visualization, dict):
        for key, value in visualization.items():
            if key in {"xAccessor", "splitAccessor", "columnId", "metricAccessor"}:
                yield value
            elif key == "accessors":
                yield from value
            else:
                yield from accessors(value)
    elif isinstance(visualization, list):
        for item in visualization:
            yield from accessors(item)


def test_lens_columns_use_mapped_aggregatable_fields() -> None:
    for obj in objects_of("lens"):
        state = obj["attributes"]["state"]
        columns = {column_id: column for _, column_id, column in lens_columns(obj)}
        for column_id, column in columns.items():
            where = f"{obj['id']} column {column_id}"
            field = column.get("sourceField")
            if field and field != LENS_RECORDS:
                kind = field_type(field)
                assert kind is not None, f"{where}: {field} is not in the index mapping"
                # Every Lens operation on a field is an aggregation (terms, histogram, metric).
                assert kind in AGGREGATABLE, f"{where}: {field} is {kind}, not aggregatable"
            order = column.get("params", {}).get("orderBy", {})
            if order.get("type") == "column":
                assert order["columnId"] in columns, f"{where}: ordered by a missing column"
            for name in kql_fields((column.get("filter") or {}).get("query", "")):
                assert field_type(name) is not None, f"{where}: filter names unknown {name}"
        for name in kql_fields(state["query"]["query"]):
            assert field_type(name) is not None, f"{obj['id']}: query names unknown {name}"
        shown = list(accessors(state["visualization"]))
        assert shown, obj["id"]
        for accessor in shown:
            assert accessor in columns, f"{obj['id']}: accessor {accessor} has no column"


def test_legacy_visualizations_use_mapped_aggregatable_fields() -> None:
    for obj in objects_of("visualization"):
        vis_state = json.loads(obj["attributes"]["visState"])
        for agg in vis_state.get("aggs", []):
            field = agg.get("params", {}).get("field")
            if field:
                kind = field_type(field)
                assert kind in AGGREGATABLE, f"{obj['id']}: {field} is {kind}, not aggregatable"


def test_top_errors_visualization_counts_errors_per_service() -> None:
    """``message`` is ``text`` (not aggregatable): errors are ranked by service and level."""
    assert field_type("message") == "text"
    (top_errors,) = [obj for obj in objects_of("lens") if obj["id"] == "stealthflow-top-errors"]
    state = top_errors["attributes"]["state"]
    assert kql_fields(state["query"]["query"]) == {"log.level"}
    terms = {
        c["sourceField"] for _, _, c in lens_columns(top_errors) if c["operationType"] == "terms"
    }
    assert terms == {"service.name", "log.level"}


def test_over_time_visualizations_break_down_by_level_and_service() -> None:
    breakdowns = set()
    for obj in objects_of("lens"):
        if obj["attributes"]["visualizationType"] != "lnsXY":
            continue
        columns = {column_id: column for _, column_id, column in lens_columns(obj)}
        (layer,) = obj["attributes"]["state"]["visualization"]["layers"]
        assert columns[layer["xAccessor"]]["operationType"] == "date_histogram"
        assert columns[layer["xAccessor"]]["sourceField"] == "@timestamp"
        breakdowns.add(columns[layer["splitAccessor"]]["sourceField"])
    assert breakdowns == {"log.level", "service.name"}


def test_dashboard_panels_are_wired_by_reference() -> None:
    (dashboard,) = objects_of("dashboard")
    attributes = dashboard["attributes"]
    panels = json.loads(attributes["panelsJSON"])
    json.loads(attributes["optionsJSON"])
    json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
    references = {ref["name"]: ref for ref in dashboard["references"]}
    visualizations = {obj["id"] for obj in objects_of("lens", "visualization")}
    shown = set()
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        reference = references[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert reference["type"] == panel["type"]
        shown.add(reference["id"])
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= DASHBOARD_COLUMNS, panel["panelIndex"]
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"panel {panel['panelIndex']} overlaps another"
        cells |= area
    assert shown == visualizations, "every visualization is on the dashboard, and only those"
    assert len(references) == len(panels)
