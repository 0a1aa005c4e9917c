"""The fallback spool on the real filesystem (no services)."""

from __future__ import annotations

from pathlib import Path

from common.spool import SpoolWriter, claim, spool_files, spool_size


def test_written_records_are_lines_of_one_file(tmp_path: Path):
    writer = SpoolWriter(tmp_path)
    writer.write(b'{"id": "a"}')
    writer.write(b'{"id": "b"}')
    [path] = spool_files(tmp_path)
    assert path.read_bytes() == b'{"id": "a"}\n{"id": "b"}\n'
    assert spool_size(tmp_path) == {"files": 1, "bytes": 24}
    writer.close()


def test_a_file_being_written_cannot_be_claimed_until_closed(tmp_path: Path):
    writer = SpoolWriter(tmp_path)
    writer.write(b"{}")
    [path] = spool_files(tmp_path)
    with claim(path) as claimed:
        assert claimed is None
    writer.close()
    with claim(path) as claimed:
        assert claimed is not None
        assert claimed.handle.read() == b"{}\n"


def test_no_temporary_file_is_ever_listed(tmp_path: Path):
    writer = SpoolWriter(tmp_path)
    writer.write(b"{}")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    writer.close()


def test_rotation_by_size_releases_the_full_file(tmp_path: Path):
    writer = SpoolWriter(tmp_path, max_bytes=10)
    writer.write(b"0123456789")
    writer.write(b"next")
    first, second = spool_files(tmp_path)
    with claim(first) as claimed:
        assert claimed is not None
    with claim(second) as claimed:
        assert claimed is None
    writer.close()


def test_rotation_by_age(tmp_path: Path):
    now = [0.0]
    writer = SpoolWriter(tmp_path, max_age_s=60, clock=lambda: now[0])
    writer.write(b"a")
    now[0] = 59
    writer.write(b"b")
    assert len(spool_files(tmp_path)) == 1
    now[0] = 61
    writer.write(b"c")
    assert len(spool_files(tmp_path)) == 2
    writer.close()


def test_missing_directory_is_created_and_unwritable_one_raises(tmp_path: Path):
    from common.spool import SpoolError

    created = SpoolWriter(tmp_path / "a" / "b")
    created.write(b"x")
    created.close()
    assert spool_files(tmp_path / "a" / "b")
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    writer = SpoolWriter(blocked / "spool")
    try:
        writer.write(b"x")
    except SpoolError:
        pass
    else:
        raise AssertionError("expected SpoolError")
    assert not writer.active


def test_an_idle_file_is_released_for_replay(tmp_path: Path):
    from tests.helpers import wait_for

    writer = SpoolWriter(tmp_path, idle_close_s=0.2)
    writer.write(b"{}")
    assert writer.active
    wait_for(lambda: not writer.active, timeout=5)
    [path] = spool_files(tmp_path)
    with claim(path) as claimed:
        assert claimed is not None
