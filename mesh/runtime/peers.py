"""A service's calls to its peers: one lazily opened aio channel per peer, the time a call may
take, and the readings of a failed call that every service shares — the peer could not
answer (:func:`unreachable`), which the caller sees as a retryable UNAVAILABLE
(:func:`unavailable`); the peer refused this service's own credentials (:func:`refused`),
which the caller sees as FAILED_PRECONDITION PEER_REFUSED naming the peer and the call, never
as INTERNAL. What any other failure means is the calling code's to decide.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

import grpc
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.runtime.channels import Options, aio_channel
from mesh.runtime.exceptions import DependencyUnavailable, FailedPrecondition, ResourceExhausted
from mesh.runtime.status import decode_status

__all__ = [
    "REFUSED",
    "UNREACHABLE",
    "Peer",
    "PeerBusy",
    "PeerRefused",
    "exhausted",
    "experiments",
    "external_factor_series",
    "peer_budget",
    "refused",
    "unavailable",
    "unreachable",
]

StubT = TypeVar("StubT")
UnavailableT = TypeVar("UnavailableT", bound=DependencyUnavailable)

# Down, gone mid-call (its server stopping cancels the call), or too slow.
UNREACHABLE = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)


def unreachable(code: grpc.StatusCode, error: grpc.RpcError | None = None) -> bool:
    """The peer could not answer the call: a code of :data:`UNREACHABLE`, or an INTERNAL the
    transport made (e.g. the peer stopped with a message in flight). A LiftOS server sends
    its own INTERNAL errors with a ``google.rpc.Status``; one without it is not the peer's."""
    if code in UNREACHABLE:
        return True
    return (
        code == grpc.StatusCode.INTERNAL and error is not None and not decode_status(error).carried
    )


# The peer does not accept this service's key (unknown key, or a principal without the
# method's scope): the deployment's configuration, not the caller's request.
REFUSED = frozenset({grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED})


class PeerRefused(FailedPrecondition):
    """A peer refused this service's own call (its credentials): not the caller's fault and
    not retryable as is; the operator fixes the service's key or the peer's key list."""

    default_reason = "PEER_REFUSED"


def refused(
    code: grpc.StatusCode, details: str | None, *, caller: str, peer: str, call: str,
    dependency: str,
) -> PeerRefused | None:  # fmt: skip
    """A failed call (its ``code`` and ``details``) read as ``peer`` refusing ``caller``'s
    credentials for ``call``, or None when it is some other failure. The message carries the
    peer's own words, which name the RPC the key may not call (the missing permission), never
    the key."""
    if code not in REFUSED:
        return None
    return PeerRefused(
        f"the {peer} refused the {caller} service's {call} ({code.name}: {details}); "
        f"give the {caller} service a key the {peer} accepts for {call} "
        f"(LIFTOS_API_KEYS KEY:service={caller}, LIFTOS_{caller.upper()}_API_KEY)",
        subject=dependency,
    )


class PeerBusy(ResourceExhausted):
    """A peer (memory, causal, the registry) shed this service's call for load and asked for a
    retry after its delay (``retry_after_s``, the peer's own): nothing is wrong with the
    request."""

    default_reason = "PEER_BUSY"


def exhausted(
    error: grpc.aio.AioRpcError, *, caller: str, peer: str, target: str, call: str
) -> ResourceExhausted:
    """A peer's RESOURCE_EXHAUSTED as ``caller``'s own, naming the peer and its words (it was
    the raw peer error, which the caller's caller saw as INTERNAL: s18 V2). With the peer's
    RetryInfo (its admission control shedding load while an ingest holds it) the call was
    never run there: PEER_BUSY with the same delay, which the SDK waits and retries; without
    it (a limit the same call meets again) the peer's reason, and no retry."""
    status = decode_status(error)
    said = f"{status.reason or error.code().name}: {status.message}"
    if status.retry_after_s is None:
        return ResourceExhausted(
            f"the {peer} at {target} refused the {caller} service's {call} ({said})",
            reason=status.reason or None,
        )
    return PeerBusy(
        f"the {peer} at {target} is busy and refused the {caller} service's {call} ({said}); "
        f"nothing is wrong with the request: retry shortly (after {status.retry_after_s:g} s)",
        retry_after_s=status.retry_after_s,
    )


def unavailable(
    kind: type[UnavailableT],
    peer: str,
    target: str,
    code: grpc.StatusCode,
    during: str,
    *,
    dependency: str,
    then: str = "",
) -> UnavailableT:
    """The error our caller gets when ``peer`` (at ``target``) could not answer: UNAVAILABLE
    with a one-second RetryInfo. ``then`` says what the caller should do about it."""
    return kind(
        f"{peer} at {target} unavailable during {during} ({code.name}){then}",
        dependency=dependency,
        retry_after_s=1.0,
    )


# What a peer call leaves of its caller's remaining time: a tenth, at most this many seconds.
PEER_MARGIN_S = 2.0


def peer_budget(remaining: float) -> float:
    """The time a peer call gets out of its caller's ``remaining`` seconds: a little less, so
    the peer call's own deadline passes first and the caller is told which peer was too slow
    (UNAVAILABLE naming it) rather than a bare DEADLINE_EXCEEDED."""
    return max(0.0, remaining - min(PEER_MARGIN_S, 0.1 * remaining))


class Peer(Generic[StubT]):
    """A lazily opened aio channel to one peer (opened on the caller's event loop, at its first
    call), its stub, and the longest a call to it may take."""

    def __init__(
        self,
        target: str,
        make_stub: Callable[[grpc.aio.Channel], StubT],
        *,
        timeout: float,
        options: Options = (),
    ) -> None:
        self.target = target
        self.timeout = timeout
        self._make_stub = make_stub
        self._options = options
        self._channel: grpc.aio.Channel | None = None
        self._stub: StubT | None = None

    def stub(self) -> StubT:
        """The peer's stub; the first call opens the channel (with the service's API key and
        the TLS CA, when configured)."""
        if self._stub is None:
            self._channel = aio_channel(self.target, options=self._options)
            self._stub = self._make_stub(self._channel)
            self._opened(self._channel)
        return self._stub

    def _opened(self, channel: grpc.aio.Channel) -> None:
        """Hook: more callables on the channel just opened."""

    def within(self, remaining: float | None) -> float:
        """A call's timeout: this peer's own limit, or the caller's remaining time less a
        margin (:func:`peer_budget`) if less."""
        return self.timeout if remaining is None else min(self.timeout, peer_budget(remaining))

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None


ItemT = TypeVar("ItemT")


async def _pages(
    registry: Peer[Any],
    call: Callable[[Any, float], Awaitable[Any]],
    request: Any,
    items: Callable[[Any], Iterable[ItemT]],
    timeout: float | None,
) -> AsyncIterator[ItemT]:
    """Every item of a paged ``List*`` call on ingestion's registry, following
    ``next_page_token``; each page gets what is left of the caller's time."""
    while True:
        reply = await call(request, registry.within(timeout))
        for item in items(reply):
            yield item
        if not reply.next_page_token:
            return
        request.page_token = reply.next_page_token


def external_factor_series(
    registry: Peer[Any], org_id: str, *, timeout: float | None = None
) -> AsyncIterator[ingestion_pb.ExternalFactorSeries]:
    """Every external series the org registered with ingestion, values included, page by page
    (``ListExternalFactors``). A failed call raises its ``AioRpcError``: each service maps it
    to its own errors."""
    request = ingestion_pb.ListExternalFactorsRequest(
        org_id=org_id, include_values=True, page_size=50
    )

    def call(r: Any, t: float) -> Awaitable[Any]:
        return registry.stub().ListExternalFactors(r, timeout=t)

    return _pages(registry, call, request, lambda reply: reply.series, timeout)


def experiments(
    registry: Peer[Any], org_id: str, *, timeout: float | None = None
) -> AsyncIterator[md_pb.CausalExperiment]:
    """Every experiment the org registered with ingestion, page by page (``ListExperiments``).
    A failed call raises its ``AioRpcError``: each service maps it to its own errors."""
    request = ingestion_pb.ListExperimentsRequest(org_id=org_id, page_size=500)

    def call(r: Any, t: float) -> Awaitable[Any]:
        return registry.stub().ListExperiments(r, timeout=t)

    return _pages(registry, call, request, lambda reply: reply.experiments, timeout)
