"""`liftos memory import FILE`: store a backfill in memory's data dir without the server;
`liftos memory accounts` and `liftos memory delete`: which ad accounts an org's records come
from, and deleting an account's (a source's, a date range's) records (``memory_accounts``).

The input is length-delimited ``WriteRequest`` messages (``memory_svc.bulk_import``; ``-``
reads stdin), stored with the Write RPC's code a message per transaction — the way to load
millions of historical records, which the Write RPC takes hours over. Run it while the memory
service is stopped; the service loads the indexes it saved when it starts.

The importer is a child process tied to this one (audit R19 #9): SIGINT and SIGTERM sent to
the CLI reach it, it gets SIGTERM when the CLI dies however it dies (a job runner's SIGKILL
included, ``PR_SET_PDEATHSIG`` as for ``liftos up``), and an importer killed by a signal is
reported, not an exit status 247 and silence. Re-running after a kill is safe: every message
stored before it stays stored (one transaction each), a re-sent record that is already stored
counts as unchanged, and the indexes are brought up to date from the store when next opened.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from types import FrameType
from typing import Any

from mesh.cli import memory_accounts
from mesh.runtime.config import add_data_dir_argument
from mesh.runtime.supervised import spawn

# Signals the CLI passes on to the importer (a terminal's Ctrl-C, a job runner's stop).
FORWARDED = (signal.SIGINT, signal.SIGTERM)


def add_parsers(sub: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "memory", help="memory's maintenance: bulk import, an org's accounts, deleting records"
    )
    verbs = p.add_subparsers(dest="memory_command", required=True)
    memory_accounts.add_parsers(verbs, common)
    imp = verbs.add_parser(
        "import", help="store length-delimited WriteRequests into a data dir, server stopped"
    )
    imp.add_argument("input", help="file of length-delimited WriteRequest messages; - for stdin")
    add_data_dir_argument(imp)  # memory's: LIFTOS_DATA_DIR as the service reads it
    imp.add_argument("--store", default=None, help="record store URL (LIFTOS_MEMORY_STORE)")
    imp.add_argument("--every", type=int, default=100, help="progress every N messages")
    imp.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    # memory's own code in its own process, as `liftos up` runs the services: the CLI is a
    # client and imports no service module (DESIGN.md, Layout); stdin and output pass through
    argv = [sys.executable, "-m", "memory_svc.bulk_import", args.input]
    argv += ["--data-dir", str(args.data_dir), "--every", str(args.every)]
    argv += ["--store", args.store] if args.store else []
    # Its own process group, so a terminal's Ctrl-C reaches it once, through this process,
    # rather than twice (from the terminal and forwarded), which would cut short its saving of
    # the indexes. Not when it reads a terminal itself: a background group may not.
    reads_tty = args.input == "-" and sys.stdin.isatty()
    child = spawn(argv, process_group=None if reads_tty else 0)

    def forward(signum: int, frame: FrameType | None) -> None:
        if reads_tty and signum == signal.SIGINT:
            return  # the terminal sent it to the importer too
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    # (signal handlers can only be set from the main thread: a CLI called from another thread
    # leaves the signals as they are)
    main = threading.current_thread() is threading.main_thread()
    # a signal this process ignores (nohup, a shell's background job) the importer ignores too
    wanted = [s for s in FORWARDED if main and signal.getsignal(s) is not signal.SIG_IGN]
    previous = {s: signal.signal(s, forward) for s in wanted}
    try:
        code = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if code < 0:
        print(_killed(signal.Signals(-code), child.pid), file=sys.stderr)
        return 128 - code  # as a shell reports a process killed by a signal
    return code


def _killed(sig: signal.Signals, pid: int) -> str:
    return (
        f"import: the importer (pid {pid}) was stopped by {sig.name} before it finished; what it "
        "stored so far is kept (one transaction per message) and running the same command "
        "again is safe: records already stored are counted unchanged, not stored twice"
    )
