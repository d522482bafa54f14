"""A file replaced whole or not at all (s20 R49-F8): a write that fails leaves the old bytes
and no temporary file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from mesh.runtime.durable_files import write_durably


def test_a_write_replaces_the_file_whole_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old report, good")
    before = os.umask(0o022)
    try:
        assert write_durably(target, "<html>new</html>") == len("<html>new</html>")
    finally:
        os.umask(before)
    assert target.read_text() == "<html>new</html>"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    # as a plain open under the umask would make it, not mkstemp's 0600
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_write_past_the_file_size_limit_keeps_the_old_file(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes the kernel refuse the write part-way (EFBIG), as a full disk does with
    ENOSPC; set in a child so that no other file of the test run is limited."""
    target = tmp_path / "report.html"
    target.write_text("old report, good")
    code = textwrap.dedent(f"""
        import errno, resource, signal, sys
        from pathlib import Path
        from mesh.runtime.durable_files import write_durably
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            write_durably(Path({str(target)!r}), "x" * 100_000)
        except OSError as exc:
            sys.exit(0 if exc.errno == errno.EFBIG else 3)
        sys.exit(4)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert target.read_text() == "old report, good"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_replaced_file_keeps_its_mode_and_a_link_is_written_through(tmp_path: Path) -> None:
    """s20 V2-F4: a report kept 0600 came back 0644, and --out naming a link replaced the link
    while its target kept last week's page."""
    private = tmp_path / "private.html"
    private.write_text("old")
    private.chmod(0o600)
    write_durably(private, "new")
    assert private.read_text() == "new" and private.stat().st_mode & 0o777 == 0o600
    target = tmp_path / "shared" / "report.html"
    target.parent.mkdir()
    target.write_text("last week")
    link = tmp_path / "latest.html"
    link.symlink_to(target)
    write_durably(link, "this week")
    assert link.is_symlink() and target.read_text() == "this week"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]


def test_what_is_not_a_regular_file_is_written_as_it_is(tmp_path: Path) -> None:
    """A pipe (as /dev/stdout can be) cannot be replaced by a rename: it is written to."""
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    read = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    write_durably(fifo, "through the pipe")
    out, _ = read.communicate(timeout=30)
    assert out == b"through the pipe" and stat.S_ISFIFO(fifo.stat().st_mode)
