"""A call that meets the process's open-file limit outside a store's statements ends
RESOURCE_EXHAUSTED OPEN_FILE_LIMIT with a RetryInfo, naming the service's limit and ``ulimit
-n``, whatever the service (s21; R49-F2 had covered only memory's Scan snapshots): a
connection opened the way every store opens one (``connect_durable``: the kernel's EMFILE from
``os.open``, or SQLite's "unable to open database file" from ``sqlite3.connect``), or a plain
``open``. Before, each of these ended INTERNAL "internal error" with a traceback in the log.

A real grpc.aio server with the interceptor, in a child process that lowers its own
RLIMIT_NOFILE (set by the child itself: a preexec_fn would fork this gRPC process,
tests/runtime/test_supervised.py) and then holds every descriptor it has left, so the errors
are the kernel's and SQLite's own. The service is a test one whose handler opens a file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Serves test.Files/Open (opens a file the way its request's first byte says), connects to
# it, then takes every descriptor left and calls it each way; prints code, reason, retry delay
# and message of each answer.
_CHILD = """
import asyncio, json, os, resource, sqlite3, sys
from pathlib import Path
import grpc
from mesh.runtime.interceptor import ServiceInterceptor
from mesh.runtime.sqlite_db import connect_durable
from mesh.runtime.status import decode_status
d = Path(sys.argv[1])
connect_durable(d / "old.sqlite").close()
resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

async def open_one(request: bytes, context) -> bytes:
    how = request.decode()
    if how == "connect_durable":  # a new store: os.open first, the kernel's EMFILE
        connect_durable(d / "new.sqlite")
    elif how == "sqlite3.connect":  # an existing one: SQLite's CANTOPEN
        sqlite3.connect(d / "old.sqlite")
    elif how == "fallback":  # an except block's fallback that meets the limit too
        try:
            open(d / "plain.txt", "w")
        except OSError:
            open(d / "other.txt", "w")
    elif how == "fallback bug":  # a bug in that fallback: the call's own failure (V1-F3)
        try:
            open(d / "plain.txt", "w")
        except OSError:
            return {}[how]
    elif how == "from None":  # its author says the EMFILE is not what failed
        try:
            open(d / "plain.txt", "w")
        except OSError:
            raise ValueError("no such field") from None
    else:
        open(d / "plain.txt", "w")
    return b"opened"

async def main() -> None:
    server = grpc.aio.server(interceptors=[ServiceInterceptor(stream_idle_s=60)])
    handler = grpc.unary_unary_rpc_method_handler(open_one)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.Files", {"Open": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    out = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary("/test.Files/Open")
        await call(b"nothing", timeout=30)  # the connection is made while descriptors are left
        held = []
        try:
            while True:
                held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        for how in ("connect_durable", "sqlite3.connect", "open", "fallback", "fallback bug",
                    "from None"):
            try:
                await call(how.encode(), timeout=30)
                out.append([how, "OK"])
            except grpc.aio.AioRpcError as error:
                s = decode_status(error)
                out.append([how, s.code.name, s.reason, s.retry_after_s, s.message])
        for fd in held:
            os.close(fd)
    await server.stop(None)
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_call_out_of_file_descriptors_is_open_file_limit_not_internal(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert [g[0] for g in got] == [
        "connect_durable", "sqlite3.connect", "open", "fallback", "fallback bug", "from None"
    ], got  # fmt: skip
    # an error raised while handling the limit, not the limit met again, is the call's own:
    # INTERNAL with its traceback logged, not a retry (V1-F3: it read OPEN_FILE_LIMIT)
    for how, code, reason, retry, message in got[4:]:
        assert (code, reason, retry) == ("INTERNAL", "INTERNAL", None), (how, reason, message)
    logged = [line for line in done.stderr.splitlines() if line.startswith("unhandled error")]
    assert len(logged) == 2 and "KeyError: 'fallback bug'" in done.stderr, done.stderr[-3000:]
    assert "ValueError: no such field" in done.stderr, done.stderr[-3000:]
    for how, code, reason, retry, message in got[:4]:
        assert (code, reason) == ("RESOURCE_EXHAUSTED", "OPEN_FILE_LIMIT"), (how, code, message)
        assert retry is not None and retry > 0, how
        assert message.startswith("files is out of file descriptors ("), message
        assert "its open-file limit is 256" in message, message
        assert "the call did not finish — send it again in a few seconds" in message, message
        assert "ulimit -n" in message, message
