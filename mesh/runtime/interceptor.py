"""One server interceptor for every call, all four call shapes, in this order:

1. admit, from the call's metadata before any message is read: the caller's principal
   (mesh.runtime.auth; health, and reflection when open, need none), whether its scopes allow
   the method, and a slot under the server's in-flight limit (health aside) and under its
   org's share of that limit (a principal of one org: a user key; see ``_slot_org``);
2. decode each request message itself (grpc is handed an identity deserializer), so corrupt
   bytes or bad UTF-8 are INVALID_ARGUMENT, and only for an admitted caller;
3. check every org_id in each message against the principal's org; a service's call is
   counted against the share of the org its first message names (``_Call.named``), so the
   share follows a call made on an org's behalf through ingestion, causal, surfacing, llm;
4. run the handler, with the service's own key in ``OUTGOING_KEY`` for the calls it makes,
   log the call and turn domain exceptions into rich statuses (and the process out of file
   descriptors, wherever the handler met it, into RESOURCE_EXHAUSTED OPEN_FILE_LIMIT with a
   RetryInfo rather than INTERNAL: mesh.runtime.storage.open_files_failure).

grpc reads a unary request whole (up to the server's maximum message size) before it calls a
unary handler, so every method is served as a request *stream*: a unary-request method gets a
request-streaming handler that admits the caller and only then reads the one message. Until a
message is asked for, HTTP/2 flow control holds a sender at its stream window, so a caller
without a key (or over the limit) is refused having made the server hold a few KiB, not the
message (R14-F1).

Each call has a request id: the caller's ``x-request-id`` when it sends a plausible one, else
a new one. It goes to the peer calls the handler makes (``REQUEST_ID``, read by the aio
channels) and back to the caller in trailing metadata. The log line of a call is
``METHOD CODE DURATIONms rid=… peer=… [org=…] [msg="…"]``: the org the request names, and for
a failed call its status message, truncated and with non-printables escaped. Never a key,
any other metadata or a request's content.

A request stream of an org's key (Ingest, WriteStream, Write) that sends nothing for
``stream_idle_s`` (``LIFTOS_STREAM_IDLE_S``) while the server waits for its next message, every
earlier one answered, is ended RESOURCE_EXHAUSTED STREAM_IDLE with RetryInfo: its slot, and
what it holds at memory, go back (R46-F2). The server's own time on a message is never the
client's idleness (V2-F6).

The same call records its metrics (mesh.runtime.metrics, when the server has them: count and
duration by code, calls in flight, a service's response observers) and its SERVER span
(mesh.runtime.tracing, when tracing is on), ending both when grpc says how the call ended.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_status import rpc_status

from mesh.runtime import tracing
from mesh.runtime.auth import (
    HEALTH_PREFIX,
    REFLECTION_PREFIX,
    SERVICE_SCOPES,
    AuthConfig,
    Principal,
    authorize,
    service_principal,
)
from mesh.runtime.channels import OUTGOING_KEY, REQUEST_ID, REQUEST_ID_HEADER
from mesh.runtime.config import DEFAULT_MAX_INFLIGHT, env_number, org_share
from mesh.runtime.exceptions import (
    InvalidInput,
    LiftosError,
    PermissionDenied,
    ResourceExhausted,
)
from mesh.runtime.metrics import ResponseObserver, ServiceMetrics
from mesh.runtime.status import grpc_code, to_rpc_status
from mesh.runtime.storage import open_files_failure

_LOGGER = logging.getLogger("liftos.rpc")
_HEALTH = "/grpc.health.v1.Health/"

Behavior = Callable[..., Any]
Decode = Callable[[bytes], Any]
# How long a caller refused for overload is told to wait before trying again.
RETRY_AFTER_S = 0.5
# How long a request stream of an org's key may wait, answered in full, for its next
# message. A client sends its next batch from rows it already has, ahead of its acks (the
# SDK up to 32): `liftos ingest` of a simulated world (31,488 rows, 5 sources) never left
# ingestion waiting with nothing to answer (2026-12-07, /work/notes/s20/FC_notes.md). Five
# minutes still serves a client that pulls each page from a platform's report API between
# batches. Past it the stream ends RESOURCE_EXHAUSTED with RetryInfo: every batch sent was
# acked, so a retry (the SDK's) resumes with nothing to resend.
STREAM_IDLE_S = 300.0
STREAM_IDLE_ENV = "LIFTOS_STREAM_IDLE_S"
# How often a stream waiting for its client's message looks at the time: at most this late.
_IDLE_TICK_S = 1.0
# The principals of the services (a key ``service=NAME`` or a client certificate): their
# calls are counted against the org their request names.
_SERVICES = frozenset(service_principal(name) for name in SERVICE_SCOPES)

# What a call that failed for want of a file descriptor, where no store said more, lost.
_UNFINISHED = "the call did not finish — send it again"

# Who the call being handled comes from, for a service's audit lines (an erasure): the label
# of the caller's key ("org_a", "service ingestion"; never the key), or NO_AUTH when the
# server checks no keys. Set per call in its own task, like the request id.
NO_AUTH = "anyone (this server checks no API keys)"
CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("liftos_caller", default=NO_AUTH)


@dataclass(frozen=True, slots=True)
class _Policy:
    """What the interceptor does for one method."""

    method: str
    authenticate: bool  # needs a known key
    check_scope: bool  # the key's scopes must allow the method (reflection: any key will do)
    limited: bool  # counts against the in-flight limit
    decode: Decode | None
    kind: str  # unary | client_stream | server_stream | bidi_stream (the metrics' type label)
    observe: ResponseObserver | None  # the service's metrics hook for each response


def _type_name(deserializer: Any, method: str) -> str:
    cls = getattr(deserializer, "__self__", None)
    descriptor = getattr(cls, "DESCRIPTOR", None)
    if descriptor is not None:
        return str(descriptor.full_name)
    service, _, rpc = method.strip("/").partition("/")
    return f"{service.rpartition('.')[0]}.{rpc}Request"


def _decoder(deserializer: Any, method: str) -> Decode | None:
    if deserializer is None:
        return None
    message = f"the request is not a valid {_type_name(deserializer, method)}"

    def decode(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except Exception:  # DecodeError, bad UTF-8, or whatever a custom decoder raises
            raise InvalidInput(message, reason="MALFORMED_REQUEST") from None

    return decode


async def _abort(
    context: grpc.aio.ServicerContext, exc: BaseException, method: str, request_id: str
) -> None:
    ids = ((REQUEST_ID_HEADER, request_id),)
    if isinstance(exc, NotImplementedError):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not implemented yet", ids)
    status = to_rpc_status(exc)
    if status.code == grpc.StatusCode.INTERNAL.value[0]:
        _LOGGER.exception("unhandled error in %s [rid=%s]", method, request_id, exc_info=exc)
    s = rpc_status.to_status(status)
    await context.abort(s.code, s.details, (*s.trailing_metadata, *ids))


# A caller's request id is used as given when it looks like one (so it cannot forge log
# lines or smuggle arbitrary text into them), else replaced by a new one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/-]{1,64}")
# The most of a status message a log line carries.
LOG_MESSAGE_CHARS = 300


def request_id(metadata: Any) -> str:
    """The call's request id: the caller's ``x-request-id`` if plausible, else a new one."""
    for key, value in metadata or ():
        if key == REQUEST_ID_HEADER and isinstance(value, str) and _REQUEST_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex[:16]


def _escaped(c: str) -> str:
    if c in '"\\':
        return "\\" + c
    return c if c.isprintable() else c.encode("unicode_escape").decode("ascii")


def log_text(text: str, limit: int = LOG_MESSAGE_CHARS) -> str:
    """``text`` for one log line: quotes and backslashes escaped, non-printables (newlines
    included) as escapes, cut to ``limit`` characters with "…" marking the cut."""
    out = "".join(map(_escaped, text))
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _org_of(message: Any) -> str:
    org = getattr(message, "org_id", "")
    return org if isinstance(org, str) else ""


# A client whose deadline passes cancels its call, and that cancel can reach the server a
# little before the server's own copy of the deadline does: a cancel this close to the deadline
# is taken as the deadline.
_DEADLINE_SLACK_S = 0.5


def _abandoned(context: grpc.aio.ServicerContext) -> str:
    """The code a cancelled handler is logged with: the client went away, or its deadline
    passed (the handler's task is cancelled either way; the client already has its status)."""
    left = context.time_remaining()
    return "DEADLINE_EXCEEDED" if left is not None and left <= _DEADLINE_SLACK_S else "CANCELLED"


def _code_of(exc: BaseException) -> str:
    if isinstance(exc, NotImplementedError):
        return "UNIMPLEMENTED"
    return grpc_code(to_rpc_status(exc).code).name


def _service_of(method: str) -> str:
    """ "memory" for ``/liftos.v1.MemoryService/Scan``: the service a log line or a message
    names."""
    service = method.lstrip("/").split("/", 1)[0].rsplit(".", 1)[-1]
    return service.removesuffix("Service").lower() or "this service"


def _cert_cn(context: grpc.aio.ServicerContext) -> str | None:
    """The verified client certificate's common name, if the call came over mTLS."""
    names = list(context.auth_context().get("x509_common_name") or ())
    return names[0].decode() if names else None


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Admission, decoding, org checks, logging and the domain-exception → status mapping."""

    def __init__(
        self,
        auth: AuthConfig | None = None,
        *,
        reflection_open: bool = True,
        max_inflight: int = DEFAULT_MAX_INFLIGHT,
        max_inflight_per_org: int | None = None,
        outgoing_key: str | None = None,
        metrics: ServiceMetrics | None = None,
        stream_idle_s: float | None = None,
    ) -> None:
        """``stream_idle_s``: how long a request stream of an org's key, answered in full,
        may send nothing while the server waits for it (None: ``LIFTOS_STREAM_IDLE_S``,
        else ``STREAM_IDLE_S``)."""
        self._auth = auth
        self._metrics = metrics
        self._reflection_open = reflection_open
        self._max_inflight = max_inflight
        self._max_per_org = (
            org_share(max_inflight) if max_inflight_per_org is None else max_inflight_per_org
        )
        self._outgoing_key = outgoing_key
        self.stream_idle_s = stream_idle_limit() if stream_idle_s is None else stream_idle_s
        self._policies: dict[str, _Policy] = {}  # one handler per method per server
        self.inflight = 0  # calls admitted and not yet finished (one event loop: no lock)
        self.inflight_by_org: dict[str, int] = {}  # the same, per org with a share

    def _policy(self, method: str, handler: grpc.RpcMethodHandler, kind: str) -> _Policy:
        found = self._policies.get(method)
        if found is None:
            health = method.startswith(HEALTH_PREFIX)
            reflection = method.startswith(REFLECTION_PREFIX)
            exempt = health or (reflection and self._reflection_open)
            found = _Policy(
                method=method,
                authenticate=self._auth is not None and not exempt,
                check_scope=not reflection,
                limited=not health,
                decode=_decoder(handler.request_deserializer, method),
                kind=kind,
                observe=self._metrics.responses.get(method) if self._metrics else None,
            )
            self._policies[method] = found
        return found

    def _admit(
        self, policy: _Policy, context: grpc.aio.ServicerContext
    ) -> tuple[Principal | None, str | None]:
        """The caller's principal (None when not needed) and the org whose share its in-flight
        slot counts against; raises before any message is read. Takes a slot when the policy
        is limited: the caller gives it back with :meth:`_release`."""
        principal = None
        if policy.authenticate:
            assert self._auth is not None
            cn = _cert_cn(context) if self._auth.cert_principals else None
            principal = self._auth.principal(context.invocation_metadata(), cn)
            if policy.check_scope and not principal.allows(policy.method):
                raise PermissionDenied(
                    f"this API key ({principal.label}) may not call {policy.method}",
                    reason="METHOD_NOT_ALLOWED",
                )
        CALLER.set(principal.label if principal is not None else NO_AUTH)
        org = None
        if policy.limited:
            org = _slot_org(principal)
            held = self.inflight_by_org.get(org, 0) if org is not None else 0
            if org is not None and held >= self._max_per_org:
                raise self._share_exhausted(org, held)
            if self.inflight >= self._max_inflight:
                raise ResourceExhausted(
                    f"this server has {self._max_inflight} calls in flight; retry shortly",
                    retry_after_s=RETRY_AFTER_S,
                    reason="TOO_MANY_CALLS",
                )
            self.inflight += 1
            if org is not None:
                self.inflight_by_org[org] = held + 1
        if self._outgoing_key is not None:
            # Each RPC runs in its own task: the value stays with this call and what it spawns.
            OUTGOING_KEY.set(self._outgoing_key)
        return principal, org

    def _share_exhausted(self, org: str, held: int) -> ResourceExhausted:
        return ResourceExhausted(
            f"org {org!r} has {held} calls in flight, its share of this server's "
            f"{self._max_inflight}; retry shortly",
            retry_after_s=RETRY_AFTER_S,
            reason="ORG_SHARE_EXHAUSTED",
        )

    def _charge(self, org: str) -> None:
        """Count an admitted call against ``org``'s share, now that its request names the
        org; raises past the share (the call's server-wide slot is given back with it)."""
        held = self.inflight_by_org.get(org, 0)
        if held >= self._max_per_org:
            raise self._share_exhausted(org, held)
        self.inflight_by_org[org] = held + 1

    def _release(self, org: str | None) -> None:
        """Give back a slot :meth:`_admit` took."""
        self.inflight -= 1
        if org is not None:
            left = self.inflight_by_org[org] - 1
            if left:
                self.inflight_by_org[org] = left
            else:
                del self.inflight_by_org[org]

    @staticmethod
    def _request(policy: _Policy, principal: Principal | None, raw: Any, call: _Call) -> Any:
        request = policy.decode(raw) if policy.decode is not None else raw
        call.named(_org_of(request))
        if principal is not None and not principal.any_org:
            authorize(principal, request)
        return request

    @staticmethod
    async def _requests(
        policy: _Policy, principal: Principal | None, raw: AsyncIterator[Any], call: _Call
    ) -> AsyncIterator[Any]:
        decode = policy.decode
        check = principal is not None and not principal.any_org
        messages = raw.__aiter__()
        while True:
            try:
                message = await call.next_message(messages)
            except StopAsyncIteration:
                break
            request = decode(message) if decode is not None else message
            call.named(_org_of(request))
            if check:
                assert principal is not None
                authorize(principal, request)
            yield request
        # A client's cancel ends the stream here like a half-close does, and grpc cancels the
        # handler's task only when its own cancel watcher runs: a handler that returns at once
        # would be logged OK. One turn of the loop lets that watcher run first.
        await asyncio.sleep(0)

    def _unary_response(self, policy: _Policy, behavior: Behavior, streaming: bool) -> Behavior:
        async def handler(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with _Call(self, policy, context) as call:
                result = behavior(await call.admit(request, streaming), context)
                if inspect.isawaitable(result):
                    result = await result
                if policy.observe is not None:
                    call.observe(result)
                return result

        return handler

    def _stream_response(self, policy: _Policy, behavior: Behavior, streaming: bool) -> Behavior:
        async def handler(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async with _Call(self, policy, context) as call:
                result = behavior(await call.admit(request, streaming), context)
                if inspect.isawaitable(result):
                    result = await result
                if result is None:
                    return
                if hasattr(result, "__aiter__"):
                    async for item in result:
                        if policy.observe is not None:
                            call.observe(item)
                        yield item
                        call.answered()
                else:
                    for item in result:
                        if policy.observe is not None:
                            call.observe(item)
                        yield item
                        call.answered()

        return handler

    async def intercept_service(  # type: ignore[override]
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        policy = self._policy(handler_call_details.method, handler, _kind(handler))
        # grpc hands over the raw bytes; the wrapped handler decodes them after admission.
        kwargs: dict[str, Any] = {
            "request_deserializer": None,
            "response_serializer": handler.response_serializer,
        }
        # A unary request is a stream of one message on the wire: served as a stream, the
        # handler runs (and admits) before grpc reads it (the module docstring).
        if handler.unary_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary_response(policy, handler.unary_unary, False), **kwargs
            )
        if handler.unary_stream:
            return grpc.stream_stream_rpc_method_handler(
                self._stream_response(policy, handler.unary_stream, False), **kwargs
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary_response(policy, handler.stream_unary, True), **kwargs
            )
        return grpc.stream_stream_rpc_method_handler(
            self._stream_response(policy, handler.stream_stream, True),  # type: ignore[arg-type]
            **kwargs,
        )


def _slot_org(principal: Principal | None) -> str | None:
    """The org whose share of the in-flight limit a call of ``principal`` counts against when
    it is admitted, before its request is read.

    A user key acts for one org, so counting its calls by that org bounds a tenant however
    many keys it holds. A service acts for the org its request names, known only once the
    request is read: its call is counted then (``_Call.named``), against that org's share —
    a share per service would let one tenant's Ingest streams fill it and stall every
    tenant's ingest, and no share let them fill memory through ingestion (R46-F2: 64 streams
    per ingestion replica, each holding a memory WriteStream). An ``*`` ops key is the
    operator's. An open mesh (no keys) has only the server's limit."""
    if principal is None or principal.any_org:
        return None
    return principal.org


def stream_idle_limit() -> float:
    """``LIFTOS_STREAM_IDLE_S`` (seconds, > 0), else ``STREAM_IDLE_S``; a value that is not a
    positive number is a ValueError naming the variable."""
    value = env_number(STREAM_IDLE_ENV, STREAM_IDLE_S, float)
    if not value > 0 or value == float("inf"):
        raise ValueError(
            f"{STREAM_IDLE_ENV}={value!r}: give the seconds (> 0) a request stream may wait, "
            "answered in full, for its next message"
        )
    return value


async def _only_message(context: grpc.aio.ServicerContext) -> Any:
    """The one message of a unary request, read only now (after admission)."""
    raw = await context.read()
    if raw is grpc.aio.EOF:
        # A client's cancel ends the stream like a half-close does: one turn of the loop lets
        # grpc's cancel watcher cancel this task first (see ServiceInterceptor._requests).
        await asyncio.sleep(0)
        raise InvalidInput("the call ended without its request message", reason="NO_REQUEST")
    return raw


def _retrieved(task: asyncio.Future[Any]) -> None:
    """Take a read's outcome that nobody awaits, so asyncio does not log it as lost."""
    if not task.cancelled():
        task.exception()


def _kind(handler: grpc.RpcMethodHandler) -> str:
    if handler.request_streaming:
        return "bidi_stream" if handler.response_streaming else "client_stream"
    return "server_stream" if handler.response_streaming else "unary"


class _Call:
    """One call's admission, its in-flight slot, its log line, metrics and span, and its
    exception → status."""

    def __init__(
        self, owner: ServiceInterceptor, policy: _Policy, context: grpc.aio.ServicerContext
    ) -> None:
        self._owner, self._policy, self._context = owner, policy, context
        self._start = time.perf_counter()
        self._admitted = False
        self._slot_org: str | None = None
        metrics = owner._metrics
        self._gauge = metrics.call_started(policy.method, policy.kind) if metrics else None
        self._span: Any = None
        self._token: object | None = None
        self.org = ""  # the org the request names (the first that does, for a stream)
        self._charge = False  # a service's call: counted against self.org once named
        # a request stream of an org's key: how long it may wait, answered in full, for a
        # message (None: no bound); messages read and answers sent; when it last did either
        self._idle_s: float | None = None
        self._read = self._sent = 0
        self._heard = time.monotonic()
        self.request_id = request_id(context.invocation_metadata())
        # Read now: in the done callback the call's core object may be gone, and peer() on
        # it crashed a test process (SIGSEGV in _report under load).
        self._peer = context.peer() or ""
        # Each RPC runs in its own task: the id stays with this call and the calls it makes.
        REQUEST_ID.set(self.request_id)
        context.set_trailing_metadata(((REQUEST_ID_HEADER, self.request_id),))
        if tracing.enabled():
            self._span, self._token = tracing.server_span(
                policy.method, context.invocation_metadata()
            )

    def observe(self, response: Any) -> None:
        """Hand a response to the service's metrics hook (never fails the call)."""
        assert self._owner._metrics is not None and self._policy.observe is not None
        try:
            self._policy.observe(self._owner._metrics, response)
        except Exception:
            _LOGGER.exception("metrics hook of %s failed", self._policy.method)

    async def __aenter__(self) -> _Call:
        return self

    def named(self, org: str) -> None:
        """A request message names ``org``: the call's org for its log line (the first a
        stream names), and for a service's call the share it counts against."""
        if self.org or not org:
            return
        self.org = org
        if self._charge:
            self._charge = False
            self._owner._charge(org)
            self._slot_org = org

    def answered(self) -> None:
        """A response went out (a stream's answer to one of its messages)."""
        self._sent += 1
        self._heard = time.monotonic()

    async def next_message(self, messages: AsyncIterator[Any]) -> Any:
        """The stream's next request message; raises StopAsyncIteration at its end, and
        ResourceExhausted when the server has answered every message (a response stream
        answers each: Ingest, WriteStream) and the client sent none for ``_idle_s`` counted
        from this call or the last answer, whichever is later."""
        if self._idle_s is None:
            message = await anext(messages)
        else:
            message = await self._within_idle(messages, self._idle_s)
        self._read += 1
        self._heard = time.monotonic()
        return message

    async def _within_idle(self, messages: AsyncIterator[Any], idle_s: float) -> Any:
        owes = self._policy.kind == "bidi_stream"  # one answer per message
        # The client is idle only while the server waits on it: from now (the handler asks
        # for the next message: what it spent on the last one, answering or storing it, is
        # its own time, V2-F6), or from its last answer if that comes later.
        waiting = time.monotonic()
        task: asyncio.Future[Any] = asyncio.ensure_future(anext(messages))
        # its outcome is taken below, or, when the call ends first (idle, cancelled), left to
        # end with the call (grpc ends a pending read then) and never awaited
        task.add_done_callback(_retrieved)
        while not task.done():
            since = max(self._heard, waiting)
            left = None if owes and self._read > self._sent else since + idle_s
            if left is not None and time.monotonic() >= left:
                raise ResourceExhausted(
                    f"this stream sent nothing for {idle_s:g} s {self._idle_state(owes)}",
                    retry_after_s=RETRY_AFTER_S,
                    reason="STREAM_IDLE",
                )
            wait = _IDLE_TICK_S if left is None else left - time.monotonic()
            await asyncio.wait((task,), timeout=max(min(wait, _IDLE_TICK_S), 0.01))
        return task.result()

    def _idle_state(self, owes: bool) -> str:
        """An idle stream's refusal after "sent nothing for N s": where it stood, and the way
        on. A response stream (Ingest, WriteStream) had every message answered; a stream
        answered once, at its end (Write), had its messages read."""
        freed = f"({STREAM_IDLE_ENV}), so it was ended to free what it held"
        if owes:
            return (
                f"after its last answer {freed}; every message sent was answered: open a new "
                "stream for the next (the SDK does)"
            )
        return (
            f"while the server waited for its next message {freed}; the server had read all "
            f"{self._read} message(s) it sent (such a stream is answered only at its end): "
            "send the rest on a new stream"
        )

    async def admit(self, requests: AsyncIterator[Any], streaming: bool) -> Any:
        """The decoded request (or request stream) of an admitted caller; for a unary request
        its one message is read only once the caller is admitted."""
        principal, self._slot_org = self._owner._admit(self._policy, self._context)
        self._admitted = self._policy.limited
        self._charge = self._admitted and principal in _SERVICES
        if streaming:
            if self._slot_org is not None:  # an org's key (not a service, an ops key)
                self._idle_s = self._owner.stream_idle_s
            return self._owner._requests(self._policy, principal, requests, self)
        raw = await _only_message(self._context)
        return self._owner._request(self._policy, principal, raw, self)

    async def __aexit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        code = None
        message = ""
        try:
            if isinstance(exc, asyncio.CancelledError):
                code = _abandoned(self._context)
            elif isinstance(exc, Exception) and not isinstance(exc, grpc.aio.AbortError):
                if not isinstance(exc, LiftosError):
                    # out of file descriptors wherever it was met: retryable, naming the
                    # limit, not INTERNAL (the stores' own statements say so themselves)
                    owner = _service_of(self._policy.method)
                    exc = open_files_failure(exc, owner=owner, lost=_UNFINISHED) or exc
                code = _code_of(exc)
                message = (
                    f"{self._policy.method} is not implemented yet"
                    if isinstance(exc, NotImplementedError)
                    else to_rpc_status(exc).message
                )
                await _abort(self._context, exc, self._policy.method, self.request_id)
        finally:
            if self._admitted:
                self._owner._release(self._slot_org)
            if self._gauge is not None:
                self._gauge.dec()
            if self._token is not None:
                tracing.detach(self._token)
            self._finish(code, message)

    def _finish(self, code: str | None, message: str = "") -> None:
        """Log, count and end the span of the call with ``code``; None: the code grpc ends
        the call with. A handler that returned may still not have answered anyone: a client
        stream cancelled mid-way can end, to the handler, like a finished one."""
        elapsed = time.perf_counter() - self._start
        if code is not None:
            self._report(code, elapsed, message)
            return

        def done(ctx: Any) -> None:
            details = ""
            if ctx.cancelled():
                found = _abandoned(ctx)
            else:
                status = ctx.code()
                found = status.name if isinstance(status, grpc.StatusCode) else "OK"
                details = (ctx.details() or "") if found != "OK" else ""
            if isinstance(details, bytes):
                details = details.decode(errors="replace")
            self._report(found, elapsed, details)

        self._context.add_done_callback(done)  # type: ignore[arg-type]  # typed by call shape

    def _report(self, code: str, elapsed: float, message: str = "") -> None:
        method = self._policy.method
        extra = f" org={log_text(self.org, 64)}" if self.org else ""
        if message and code != "OK":
            extra += f' msg="{log_text(message)}"'
        # a health probe that answers OK is DEBUG: probes every few seconds were most of a
        # long-running mesh's log (R43-F2, ~0.8 GB a year per service), and said nothing
        level = logging.DEBUG if code == "OK" and method.startswith(_HEALTH) else logging.INFO
        _LOGGER.log(
            level, "%s %s %.1fms rid=%s peer=%s%s",
            method, code, elapsed * 1e3, self.request_id, log_text(self._peer, 80),
            extra,
        )  # fmt: skip
        if self._owner._metrics is not None:
            self._owner._metrics.call_finished(method, code, elapsed)
        if self._span is not None:
            tracing.finish(self._span, code)
