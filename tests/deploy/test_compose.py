"""``docker-compose.yml``: the stack, its ports, start order and the kibana-setup step."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import threading
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from common.config import load_settings
from tests.deploy.files import (
    HOST_PORTS,
    ONE_SHOTS,
    ROOT,
    SAVED_OBJECTS,
    SERVICES,
    compose,
    depends_on,
    dockerfile_of,
    effective_command,
    environment,
    final_stage,
    interpolate,
    objects_of,
    own_image_services,
    published_ports,
    saved_objects,
    service,
)


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
    # /tmp/ first: the clone itself may live under /tmp (CI clones anywhere).
    script = script.replace("/tmp/", f"{tmp_path}/").replace("sleep 5", "sleep 0")
    script = script.replace("/kibana/saved_objects.ndjson", str(SAVED_OBJECTS))
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
