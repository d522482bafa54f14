"""Bulk import: store a large backfill of records without the gRPC server.

Memory's Write RPC takes ~2,000 records/s on a small machine (one unary hop, decode and
group commit per message), so a history of millions of records takes hours through it. This
path reads the same ``WriteRequest`` messages from a file or a pipe — length-delimited (a
varint byte count before each message, what ``writeDelimitedTo`` / ``_VarintEncoder`` write)
— and stores each with the code the Write RPC runs (``convert.write_batch`` then
``MemoryEngine.write``: idempotent, restatements, history, FAISS, graph and sums alike), one
message per transaction, one message in memory at a time.

    python -m memory_svc.bulk_import --data-dir ~/.liftos requests.bin   # or - for stdin

The memory service must not run on the same data dir meanwhile (both would own its index
files); start it afterwards and it loads the saved indexes. A record breaking a rule is
refused alone, as the Write RPC refuses it, and reported (message number, record index, id,
field, reason; the first ones listed, all counted); a message refused as a whole (not a
WriteRequest, no org_id, too many records) is reported by number and skipped. The others are
stored either way.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from google.protobuf.message import DecodeError
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc import convert, data_dir_lock
from memory_svc.engine import MemoryEngine
from memory_svc.errors import SchemaTooNew
from memory_svc.refusals import RefusalList
from memory_svc.write_group import answered
from memory_svc.writer import WriteOutcome
from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.storage import StorageFailure, StorageUnwritable, check_writable

__all__ = ["ImportReport", "delimited", "import_requests", "main", "read_delimited"]

_LOGGER = logging.getLogger(__name__)
# a message may hold 10,000 records (convert.MAX_RECORDS_PER_REQUEST) of a few KiB each
_MAX_MESSAGE = 256 << 20


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def delimited(message: bytes) -> bytes:
    """One message framed for :func:`read_delimited`."""
    return _varint(len(message)) + message


def read_delimited(stream: BinaryIO) -> Iterator[bytes]:
    """The messages of a length-delimited stream, one at a time.

    Raises
    ------
    InvalidInput
        A truncated stream or a length past the limit (the offset is named).
    """
    offset = 0
    while True:
        head = stream.read(1)
        if not head:
            return
        while head[-1] & 0x80:  # a varint continues while the high bit is set
            more = stream.read(1)
            if not more or len(head) >= 10:
                raise InvalidInput(f"truncated length at byte {offset}", field="input")
            head += more
        size = sum((b & 0x7F) << (7 * i) for i, b in enumerate(head))
        if size > _MAX_MESSAGE:
            raise InvalidInput(
                f"message at byte {offset} claims {size} bytes (at most {_MAX_MESSAGE})",
                field="input",
            )
        body = stream.read(size)
        if len(body) != size:
            raise InvalidInput(
                f"message at byte {offset} is truncated: {len(body)} of {size} bytes",
                field="input",
            )
        offset += len(head) + size
        yield body


@dataclass(slots=True)
class ImportReport:
    """What an import stored, the messages it refused whole (number, reason) and the
    records it refused one by one (``records_refused`` counts them all; ``refusals`` lists
    the first ones, bounded as the Write RPC's answer is)."""

    messages: int = 0
    inserted: int = 0
    replaced: int = 0
    unchanged: int = 0
    stale: int = 0
    seconds: float = 0.0
    refused: list[tuple[int, str]] = field(default_factory=list)
    refusals: RefusalList = field(default_factory=RefusalList)

    @property
    def records_refused(self) -> int:
        return self.refusals.count

    @property
    def records_per_s(self) -> float:
        done = self.inserted + self.replaced + self.unchanged + self.stale
        return done / self.seconds if self.seconds else 0.0


def import_requests(
    engine: MemoryEngine,
    messages: Iterable[bytes | memory_pb.WriteRequest],
    *,
    progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Store every message as the Write RPC would, one transaction each.

    A record breaking a rule is refused alone and the rest of its message stored, as the RPC
    does (``report.refusals``). A message the RPC would refuse whole (``InvalidInput``: no
    or a bad org_id, too many records; not a WriteRequest) is refused and the import goes
    on; any other error (the disk, the store) stops it, with everything before it stored.
    """
    report = ImportReport()
    start = time.perf_counter()
    for number, message in enumerate(messages):
        report.messages += 1
        try:
            request = (
                memory_pb.WriteRequest.FromString(message)
                if isinstance(message, bytes)
                else message
            )
            batch = convert.write_batch(request, None)
            if not batch.records and not batch.refusals:
                continue
            outcome = WriteOutcome()
            if batch.records:
                outcome = engine.write(
                    batch.org_id,
                    batch.frame,
                    batch.given_vectors,
                    convert.serialiser(batch.records),
                )
            outcome = answered(batch, outcome)
        except InvalidInput as exc:
            report.refused.append((number, _reason(exc)))
            continue
        except DecodeError as exc:
            report.refused.append((number, f"not a WriteRequest: {exc}"))
            continue
        report.inserted += outcome.inserted
        report.replaced += outcome.replaced
        report.unchanged += outcome.unchanged
        report.stale += outcome.stale
        report.refusals.add(number, outcome.refusals)
        report.seconds = time.perf_counter() - start
        if progress is not None:
            progress(report)
    report.seconds = time.perf_counter() - start
    return report


def _reason(exc: InvalidInput) -> str:
    fields = ", ".join(v.field for v in exc.violations[:3])
    return f"{exc} ({fields})" if fields else str(exc)


def main(argv: list[str] | None = None) -> int:
    """``python -m memory_svc.bulk_import``: import a file (or stdin) into a data dir."""
    from mesh.runtime.config import add_data_dir_argument
    from mesh.runtime.main import PRIVATE_UMASK
    from mesh.runtime.supervised import die_with_supervisor

    die_with_supervisor()  # when the CLI started it (``liftos memory import``)

    ap = argparse.ArgumentParser(
        prog="python -m memory_svc.bulk_import", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("input", help="length-delimited WriteRequest messages; - for stdin")
    add_data_dir_argument(ap)  # LIFTOS_DATA_DIR, as the memory service reads it
    ap.add_argument("--store", default=None, help="record store URL (env LIFTOS_MEMORY_STORE)")
    ap.add_argument("--every", type=int, default=100, help="print progress every N messages")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    umask = os.umask(PRIVATE_UMASK)  # the indexes it saves are the server's files: owner only
    try:
        return _run(args)
    finally:
        os.umask(umask)


def _run(args: argparse.Namespace) -> int:
    from memory_svc.app import open_engine  # the service's wiring, env settings included
    from mesh.runtime.config import PeerConfig, ServerConfig

    if args.input != "-" and not Path(args.input).is_file():
        print(f"import: {args.input}: no such file", file=sys.stderr)
        return 2
    config = ServerConfig(
        "memory", "127.0.0.1", 0, args.data_dir.expanduser(), PeerConfig.from_env()
    )
    try:  # one line, as the service says it at start, not a traceback from deep in the store
        check_writable(config.data_dir)
        owner = data_dir_lock.hold(config.data_dir / "memory", exclusive=True)
    except (data_dir_lock.DataDirBusy, StorageUnwritable) as exc:
        print(f"import: {exc}", file=sys.stderr)
        return 2
    try:
        engine = open_engine(config, store=args.store)
    except SchemaTooNew as exc:  # a store a newer LiftOS upgraded: one line, as the service
        os.close(owner)
        print(f"import: {exc}", file=sys.stderr)
        return 2

    def progress(r: ImportReport) -> None:
        if r.messages % args.every == 0:
            print(f"{r.messages:,} messages, {r.inserted:,} inserted, "
                  f"{r.records_per_s:,.0f} records/s", file=sys.stderr, flush=True)  # fmt: skip

    try:
        with sys.stdin.buffer if args.input == "-" else open(args.input, "rb") as stream:
            report = import_requests(engine, read_delimited(stream), progress=progress)
    except InvalidInput as exc:
        print(f"import: {exc}", file=sys.stderr)
        return 2
    except StorageFailure as exc:  # the store's disk filled up: what was stored stays
        print(f"import: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # unreadable input: named, not a traceback
        print(f"import: {args.input}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("import: interrupted; the records stored so far stay, and running the same "
              "command again is safe (stored records count as unchanged)", file=sys.stderr)  # fmt: skip
        return 130
    finally:
        engine.close()  # saves the indexes: the service loads them on start
        os.close(owner)
    print(f"{report.messages:,} messages: {report.inserted:,} inserted, {report.replaced:,} "
          f"replaced, {report.unchanged:,} unchanged, {report.stale:,} stale in "
          f"{report.seconds:.0f}s ({report.records_per_s:,.0f} records/s); "
          f"{len(report.refused)} refused; {report.records_refused:,} records refused")  # fmt: skip
    for number, reason in report.refused[:20]:
        print(f"  message {number}: {reason}")
    for x in report.refusals.listed[:20]:
        print(f"  message {x.message} record {x.index} ({x.record_id or 'no id'}): "
              f"{x.field}: {x.reason}")  # fmt: skip
    if report.records_refused > 20:
        print(f"  … and {report.records_refused - 20:,} more refused records")
    return 1 if report.refused or report.records_refused else 0


if __name__ == "__main__":
    raise SystemExit(main())
