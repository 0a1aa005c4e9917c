"""The deployment files as data: their paths, what the tests expect, and readers for them."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from common.index_template import MAPPINGS

ROOT = Path(__file__).resolve().parent.parent.parent
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
