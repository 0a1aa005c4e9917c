"""manage.py stats and prune on the real services; retention rules (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from click.testing import CliRunner

from common.retention import parse_retention, past_retention
from common.schema import normalize
from manage import cli
from tests.test_manage import _env

ALIAS = "sf_develop_logs"
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def _names(*days: str) -> list[str]:
    return [f"{ALIAS}-{day}" for day in days]


def test_retention_keeps_today_and_recent_days():
    names = _names("2026.10.01", "2026.11.03", "2026.11.04", "2026.12.04", "2027.01.01")
    names.append("unrelated-2020.01.01")
    assert past_retention(ALIAS, names, timedelta(days=30), NOW) == _names(
        "2026.10.01", "2026.11.03"
    )
    assert past_retention(ALIAS, names, timedelta(0), NOW) == _names(
        "2026.10.01", "2026.11.03", "2026.11.04"
    )


@pytest.mark.parametrize(("text", "days"), [("30d", 30), ("2w", 14), ("48h", 2)])
def test_retention_durations(text, days):
    assert parse_retention(text) == timedelta(days=days)


@pytest.mark.parametrize("text", ["30", "soon", "-1d", "1y"])
def test_bad_retention_is_refused(text):
    with pytest.raises(ValueError):
        parse_retention(text)


@pytest.fixture
def run(settings):
    runner = CliRunner()
    return lambda *args, input=None: runner.invoke(cli, list(args), env=_env(settings), input=input)


def _index_days(es, settings, *days: str) -> None:
    from common.elastic import install_index_template

    install_index_template(es, settings)
    for day in days:
        es.index(
            index=f"{settings.index_alias}-{day}",
            document={
                "@timestamp": day.replace(".", "-") + "T00:00:00Z",
                "message": "m",
                "log": {"level": "info"},
                "service": {"name": "s"},
            },
            refresh=True,
        )


def test_prune_deletes_only_indices_past_retention(run, es, settings):
    today = datetime.now(UTC).strftime("%Y.%m.%d")
    _index_days(es, settings, "2020.01.01", "2020.01.02", today)
    dry = run("prune", "--older-than", "30d", "--dry-run")
    assert dry.exit_code == 0
    assert "would delete" in dry.output and "2020.01.01" in dry.output
    assert es.indices.exists(index=f"{settings.index_alias}-2020.01.01")
    result = run("prune", "--older-than", "30d", "--yes")
    assert result.exit_code == 0 and "deleted 2 index(es)" in result.output
    left = es.indices.get(index=f"{settings.index_alias}-*")
    assert list(left) == [f"{settings.index_alias}-{today}"]
    zero = run("prune", "--older-than", "0d", "--yes")  # today's index is never deleted
    assert "nothing older" in zero.output
    assert run("prune", "--older-than", "soon").exit_code == 2


def test_stats_shows_the_whole_pipeline(run, stream, es, settings):
    stream.ensure_group()
    log = normalize({"message": "m", "level": "info", "service": "s"})
    stream.append(log["id"], orjson.dumps(log))
    stream.read("reader-1", 10, 100)
    _index_days(es, settings, "2026.01.02")
    result = run("stats", "--json")
    assert result.exit_code == 0, result.output
    found = orjson.loads(result.output)
    assert found["stream"]["length"] == 1 and found["stream"]["pending"] == 1
    assert found["stream"]["consumers"][0]["name"] == "reader-1"
    assert found["indices"]["docs"] == {f"{settings.index_alias}-2026.01.02": 1}
    text = run("stats").output
    assert "reader-1" in text and "daily" in text


def test_lifecycle_policy_and_template_name_it():
    from common.index_template import index_template, lifecycle_policy

    policy = lifecycle_policy("30d")["policy"]["phases"]
    assert policy["delete"] == {"min_age": "30d", "actions": {"delete": {}}}
    body = index_template("p-*", "p", lifecycle="p")
    assert body["template"]["settings"]["index"]["lifecycle"] == {"name": "p"}
    assert "lifecycle" not in index_template("p-*", "p")["template"]["settings"]["index"]


def test_init_index_installs_the_template(run, es, settings):
    result = run("init-index")
    assert result.exit_code == 0, result.output
    found = es.indices.get_index_template(name=settings.template_name)["index_templates"]
    assert found[0]["index_template"]["index_patterns"] == [settings.index_pattern]


def test_init_index_says_when_the_cluster_has_no_lifecycle_management(run, es, settings):
    from common.elastic import has_lifecycle_management

    result = run("init-index", "--ilm-delete-after", "30d")
    if has_lifecycle_management(es):  # the default distribution (compose)
        assert result.exit_code == 0 and "delete after 30d" in result.output
    else:  # the minimal distribution the local scripts run
        assert result.exit_code == 1
        assert "prune --older-than 30d" in result.output
