"""What the SDK's calls share: overload retries, dates, and the client's stubs."""

from __future__ import annotations

import datetime as dt
import decimal
import numbers
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import grpc
import liftos_dc.liftos.v1 as dc
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import llm_pb2_grpc as llm_grpc
from liftos.v1 import memory_pb2_grpc as memory_grpc
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from mesh.runtime.exceptions import shown
from mesh.runtime.status import decode_status
from mesh.sdk.failures import InvalidArgument, RpcFailure

T = TypeVar("T")


# A call refused for overload (RESOURCE_EXHAUSTED with RetryInfo: it was never run) is tried
# again after the delay the server asks for, at most OVERLOAD_RETRIES times.
OVERLOAD_RETRIES = 5
MAX_RETRY_DELAY_S = 10.0


def retry_delay(error: grpc.RpcError) -> float | None:
    """The delay a RESOURCE_EXHAUSTED error's RetryInfo asks for; None when it carries none
    (then the same call will not succeed later) or the error is something else."""
    if not isinstance(error, grpc.Call) or error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return None
    delay = decode_status(error).retry_after_s
    return None if delay is None else min(max(delay, 0.0), MAX_RETRY_DELAY_S)


def backoff(exc: grpc.RpcError, attempt: int, retries: int = OVERLOAD_RETRIES) -> None:
    """Wait the delay an overloaded call's refusal asks for before try ``attempt + 1``, or
    raise the error as :class:`RpcFailure` (not an overload, or out of tries)."""
    delay = retry_delay(exc)
    if delay is None or attempt >= retries:
        raise RpcFailure.from_rpc_error(exc) from None
    time.sleep(delay)


def _call(fn: Callable[[], T], retries: int = OVERLOAD_RETRIES, deadline: float | None = None) -> T:
    """``fn()`` (one unary call), tried again on overload; ``deadline``: the client's default
    deadline the call runs under, named when it is what ran out."""
    attempt = 0
    while True:
        started = time.monotonic()
        try:
            return fn()
        except grpc.RpcError as exc:
            if deadline is not None and _ran_out(exc, deadline, time.monotonic() - started):
                raise client_deadline_failure(exc, deadline) from None
            backoff(exc, attempt, retries)
            attempt += 1


def _ran_out(exc: grpc.RpcError, deadline: float, took: float) -> bool:
    """This client's deadline passed (not a peer's inside the server, which fails sooner)."""
    expired = isinstance(exc, grpc.Call) and exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    return expired and took >= deadline * 0.99


def client_deadline_failure(exc: grpc.RpcError, deadline: float) -> RpcFailure:
    """DEADLINE_EXCEEDED with a note naming the client's deadline and how to allow longer (it
    said only "Deadline Exceeded": R45-F4). A note (shown under the traceback, in a notebook
    too), not the message: the CLI prints the message and adds its own --timeout hint."""
    failure = RpcFailure.from_rpc_error(exc)
    failure.add_note(
        f"the call did not finish within this client's {deadline:g} s deadline; to allow "
        "longer, make the client with LiftOS(timeout=SECONDS), or timeout=0 for none"
    )
    return failure


def _date_pb(value: dt.date) -> common_pb.Date:
    return common_pb.Date(year=value.year, month=value.month, day=value.day)


def _date(value: dt.date) -> dc.Date:
    return dc.Date(year=value.year, month=value.month, day=value.day)


class ClientBase:
    """What every service's calls share: the default org and the stubs (set by LiftOS)."""

    org_id: str
    _timeout: float | None  # the unary calls' deadline (None: none)
    _ingestion: ingestion_grpc.IngestionServiceStub
    _ingestion_dc: dc.IngestionServiceStub
    _causal: causal_grpc.CausalServiceStub
    _causal_dc: dc.CausalServiceStub
    _llm: llm_grpc.LlmServiceStub
    _memory: memory_grpc.MemoryServiceStub
    _surfacing: surfacing_grpc.SurfacingServiceStub

    def _org(self, org_id: str | None) -> str:
        return org_id if org_id is not None else self.org_id

    def _unary(self, fn: Callable[[], T], retries: int = OVERLOAD_RETRIES) -> T:
        """:func:`_call` under this client's deadline."""
        return _call(fn, retries, self._timeout)


def as_date(value: object, field: str) -> dt.date | None:
    """A date argument as a ``datetime.date``: a date (a datetime's day), an ISO string
    ("2024-09-15"), or None; anything else is InvalidArgument naming ``field`` (a notebook's
    ``analyze(start="2024-09-15")`` raised AttributeError 'str' has no 'year': R5-F10)."""
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidArgument(
        f"{field} {shown(value)} is not a date: give a datetime.date or an ISO date 'YYYY-MM-DD'",
        field=field,
    )


def required_date(value: object, field: str) -> dt.date:
    """:func:`as_date` of an argument that must be given."""
    day = as_date(value, field)
    if day is None:
        raise InvalidArgument(
            f"{field}: a date is required (a datetime.date or 'YYYY-MM-DD')", field=field
        )
    return day


def choices(enum: Any, prefix: str) -> list[str]:
    """The short names of a proto enum's values (``prefix`` off, lower case), unspecified left out."""
    return [
        v.name.removeprefix(prefix).lower()
        for v in enum.DESCRIPTOR.values
        if not v.name.endswith("_UNSPECIFIED")
    ]


def choice(enum: Any, prefix: str, name: object, argument: str, *, optional: bool = True) -> int:
    """The number of the proto enum value ``prefix + name.upper()``; ``""`` is the unspecified
    value (0) when ``optional``. Anything else is InvalidArgument naming ``argument`` and its
    choices (protobuf's ValueError named the wire enum: "Enum EstimationMethod has no value
    defined for name 'ESTIMATION_METHOD_DIFF_IN_DIFF'": R45-F3)."""
    names = choices(enum, prefix)
    if isinstance(name, str):
        key = name.strip().lower()
        if key in names:
            return int(enum.Value(prefix + key.upper()))
        if not key and optional:
            return 0
    default = " (or '' for the default)" if optional else ""
    raise InvalidArgument(
        f"{argument} {shown(name)} must be one of {', '.join(names)}{default}", field=argument
    )


def as_number(value: object, argument: str) -> float:
    """A real number argument (int, float, Decimal, numpy scalar) as a float; a string or
    anything else is InvalidArgument naming ``argument``."""
    if isinstance(value, (numbers.Real, decimal.Decimal)) and not isinstance(value, bool):
        return float(value)
    raise InvalidArgument(f"{argument} must be a number, not {shown(value)}", field=argument)


def as_whole(value: object, argument: str) -> int:
    """A whole-number argument: an int, or a float/Decimal/numpy number with no fraction
    (``days=30.0`` is 30); anything else is InvalidArgument naming ``argument``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (numbers.Real, decimal.Decimal)) and not isinstance(value, bool):
        as_float = float(value)
        if as_float.is_integer():
            return int(as_float)
    raise InvalidArgument(f"{argument} must be a whole number, not {shown(value)}", field=argument)


def numbers_by_name(values: Mapping[str, object] | None, argument: str) -> dict[str, float]:
    """A ``{name: number}`` argument (multipliers, spend) with every value checked."""
    return {name: as_number(v, f"{argument}[{name!r}]") for name, v in (values or {}).items()}
