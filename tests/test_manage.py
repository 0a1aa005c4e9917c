"""The operator CLI against the real Redis: replay-fallback, replay-dlq, dlq."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from common.config import Settings, as_env
from common.dlq import DeadLetter
from common.schema import normalize
from common.spool import SpoolWriter, spool_files
from common.stream import LogStream
from manage import cli


def _env(settings: Settings) -> dict[str, str]:
    return as_env(settings)


@pytest.fixture
def run(settings: Settings):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, list(args), env=_env(settings), input=input)

    return invoke


def _log(**fields: object) -> dict:
    return normalize({"message": "m", "level": "info", "service": "s", **fields})


def _stream_ids(stream: LogStream) -> list[str]:
    return [fields[b"id"].decode() for _, fields in stream.client.xrange(stream.key)]


def _spool(settings: Settings, logs: list[dict]) -> SpoolWriter:
    writer = SpoolWriter(settings.fallback_dir)
    for log in logs:
        writer.write(orjson.dumps(log))
    return writer


def test_replay_fallback_puts_every_spooled_log_in_the_stream(run, settings, stream):
    logs = [_log() for _ in range(1200)]
    _spool(settings, logs).close()
    result = run("replay-fallback")
    assert result.exit_code == 0, result.output
    assert "appended 1200 log(s)" in result.output
    assert _stream_ids(stream) == [log["id"] for log in logs]
    assert spool_files(settings.fallback_dir) == []
    again = run("replay-fallback")
    assert "0 file(s): appended 0" in again.output
    assert stream.length() == 1200


def test_replay_fallback_never_touches_a_file_being_written(run, settings, stream):
    writer = _spool(settings, [_log()])
    result = run("replay-fallback")
    assert result.exit_code == 0
    assert "still being written" in result.output
    assert stream.length() == 0
    assert len(spool_files(settings.fallback_dir)) == 1
    writer.close()
    assert "appended 1 log(s)" in run("replay-fallback").output


def test_replay_fallback_dry_run_changes_nothing(run, settings, stream):
    _spool(settings, [_log(), _log()]).close()
    result = run("replay-fallback", "--dry-run")
    assert "would append 2 log(s)" in result.output
    assert stream.length() == 0
    assert len(spool_files(settings.fallback_dir)) == 1


def test_replay_fallback_archives_when_asked(run, settings, stream, tmp_path: Path):
    _spool(settings, [_log()]).close()
    assert run("replay-fallback", "--archive", str(tmp_path / "done")).exit_code == 0
    assert len(list((tmp_path / "done").iterdir())) == 1


def test_corrupt_and_torn_spool_lines_go_to_the_dlq(run, settings, stream):
    good = _log()
    _spool(settings, [good]).close()
    [path] = spool_files(settings.fallback_dir)
    with path.open("ab") as handle:
        handle.write(b'garbage\n{"id": "torn')
    result = run("replay-fallback")
    assert "appended 1 log(s), 2 corrupt line(s) sent to the DLQ" in result.output
    assert _stream_ids(stream) == [good["id"]]
    reasons = [f[b"reason"] for _, f in stream.client.xrange(stream.dlq_key)]
    assert len(reasons) == 2 and b"torn" in reasons[1]


def test_replay_fallback_exits_3_when_redis_is_unreachable(settings, tmp_path):
    _spool(settings, [_log()]).close()
    env = _env(settings) | {"REDIS_URL": "redis://127.0.0.1:1/0"}
    result = CliRunner().invoke(cli, ["replay-fallback"], env=env)
    assert result.exit_code == 1
    assert "FAILED" in result.output
    assert len(spool_files(settings.fallback_dir)) == 1


def _dead(stream: LogStream, error_type: str, count: int) -> list[dict]:
    logs = [_log() for _ in range(count)]
    stream.add_dead_letters(
        [
            DeadLetter(
                source_entry_id=f"0-{i}",
                log_id=log["id"],
                data=orjson.dumps(log),
                error_type=error_type,
                reason=f"{error_type} happened",
                status=400,
                worker="w",
                attempts=2,
                first_failed_at="2026-12-01T00:00:00.000000Z",
                last_failed_at="2026-12-01T00:00:00.000000Z",
            )
            for i, log in enumerate(logs)
        ]
    )
    return logs


def test_dlq_list_groups_by_error_type(run, stream):
    _dead(stream, "mapper_parsing_exception", 3)
    _dead(stream, "poison", 1)
    result = run("dlq", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[1].startswith("mapper_parsing_exception") and " 3 " in lines[1]
    assert "mapper_parsing_exception happened" in lines[1]
    as_json = orjson.loads(run("dlq", "list", "--json").output)
    assert {k: v["count"] for k, v in as_json.items()} == {
        "mapper_parsing_exception": 3,
        "poison": 1,
    }


def test_dlq_show_prints_one_entry(run, stream):
    [log] = _dead(stream, "poison", 1)
    [(entry_id, _)] = stream.client.xrange(stream.dlq_key)
    shown = orjson.loads(run("dlq", "show", entry_id.decode()).output)
    assert shown["id"] == log["id"]
    assert orjson.loads(shown["data"]) == log
    assert run("dlq", "show", "1-1").exit_code == 1


def test_replay_dlq_moves_matching_entries_back_with_their_history(run, stream):
    mapping = _dead(stream, "mapper_parsing_exception", 3)
    _dead(stream, "poison", 2)
    dry = run("replay-dlq", "--error-type", "mapper_parsing_exception", "--dry-run")
    assert "would move 3" in dry.output and stream.length() == 0
    result = run("replay-dlq", "--error-type", "mapper_parsing_exception", "--limit", "2")
    assert result.exit_code == 0 and "moved 2" in result.output
    entries = stream.client.xrange(stream.key)
    assert [f[b"id"].decode() for _, f in entries] == [log["id"] for log in mapping[:2]]
    assert entries[0][1][b"attempts"] == b"2"
    assert stream.dlq_length() == 3
    assert "moved 3" in run("replay-dlq").output
    assert stream.dlq_length() == 0


def test_dlq_purge_asks_then_deletes(run, stream):
    _dead(stream, "poison", 2)
    _dead(stream, "other", 1)
    assert run("dlq", "purge", input="n\n").exit_code == 1
    assert stream.dlq_length() == 3
    assert "purged 2" in run("dlq", "purge", "--error-type", "poison", "--yes").output
    assert "purged 1" in run("dlq", "purge", input="y\n").output
    assert stream.dlq_length() == 0


def test_since_filters_by_time_dead_lettered(run, stream):
    _dead(stream, "poison", 1)
    assert "would move 1" in run("replay-dlq", "--since", "1h", "--dry-run").output
    assert (
        "would move 0" in run("replay-dlq", "--since", "2999-01-01T00:00:00Z", "--dry-run").output
    )
    assert run("replay-dlq", "--since", "yesterday").exit_code == 2


def test_a_replayed_entry_that_fails_again_returns_with_attempts_plus_one(
    run, stream, es, settings
):
    from common.elastic import install_index_template
    from worker.consumer import Consumer

    stream.ensure_group()
    install_index_template(es, settings)
    stream.add_dead_letters(
        [
            DeadLetter(
                source_entry_id="0-1",
                log_id="still-bad",
                data=b"{not json",
                error_type="invalid_entry",
                reason="not JSON",
                status=0,
                worker="w",
                attempts=2,
                first_failed_at="2026-12-01T00:00:00.000000Z",
                last_failed_at="2026-12-01T00:00:00.000000Z",
            )
        ]
    )
    assert "moved 1" in run("replay-dlq").output
    Consumer(stream, es, settings).run_once()
    [(_id, record)] = stream.client.xrange(stream.dlq_key)
    assert record[b"id"] == b"still-bad"
    assert record[b"attempts"] == b"3"
    assert record[b"first_failed_at"] == b"2026-12-01T00:00:00.000000Z"
    assert record[b"last_failed_at"] != record[b"first_failed_at"]
    assert stream.pending_count() == 0
