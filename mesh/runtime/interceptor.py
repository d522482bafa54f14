"""One server interceptor that authenticates the caller and checks every request's org
(mesh.runtime.auth), logs every call (method, code, duration) and turns domain exceptions
into rich gRPC statuses, for all four call shapes."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc_status import rpc_status

from mesh.errors import Unauthenticated
from mesh.runtime.auth import EXEMPT_SERVICES, AuthConfig, authorize
from mesh.runtime.errors import to_rpc_status

_LOGGER = logging.getLogger("liftos.rpc")

Behavior = Callable[..., Any]
Guard = Callable[[Any], None]  # raises a domain error when the caller may not send this message


def _unguarded(message: Any) -> None:
    return None


def _guard_request(request: Any, guard: Guard, streaming: bool) -> Any:
    """The request, or for a client stream an iterator that checks each message as it comes."""
    if not streaming:
        guard(request)
        return request

    async def checked() -> AsyncIterator[Any]:
        async for message in request:
            guard(message)
            yield message

    return checked()


async def _abort(context: grpc.aio.ServicerContext, exc: BaseException, method: str) -> None:
    if isinstance(exc, NotImplementedError):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not implemented yet")
    status = to_rpc_status(exc)
    if status.code == grpc.StatusCode.INTERNAL.value[0]:
        _LOGGER.exception("unhandled error in %s", method, exc_info=exc)
    s = rpc_status.to_status(status)
    await context.abort(s.code, s.details, s.trailing_metadata)


def _log(method: str, context: grpc.aio.ServicerContext, start: float, code: str | None) -> None:
    if code is None:
        found = context.code()
        code = found.name if isinstance(found, grpc.StatusCode) else "OK"
    _LOGGER.info("%s %s %.1fms", method, code, (time.perf_counter() - start) * 1e3)


def _code_of(exc: BaseException) -> str:
    if isinstance(exc, NotImplementedError):
        return "UNIMPLEMENTED"
    return grpc.StatusCode(
        next(c for c in grpc.StatusCode if c.value[0] == to_rpc_status(exc).code)
    ).name


def _wrap_unary_response(
    behavior: Behavior, method: str, guard: Guard, streaming: bool
) -> Behavior:
    async def handler(request: Any, context: grpc.aio.ServicerContext) -> Any:
        start, code = time.perf_counter(), None
        try:
            result = behavior(_guard_request(request, guard, streaming), context)
            if inspect.isawaitable(result):
                result = await result
            return result
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            code = _code_of(exc)
            await _abort(context, exc, method)
        finally:
            _log(method, context, start, code)

    return handler


def _wrap_stream_response(
    behavior: Behavior, method: str, guard: Guard, streaming: bool
) -> Behavior:
    async def handler(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        start, code = time.perf_counter(), None
        try:
            result = behavior(_guard_request(request, guard, streaming), context)
            if inspect.isawaitable(result):
                result = await result
            if result is None:
                return
            if hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            else:
                for item in result:
                    yield item
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            code = _code_of(exc)
            await _abort(context, exc, method)
        finally:
            _log(method, context, start, code)

    return handler


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Auth, logging and the domain-exception → status mapping, applied to every handler."""

    def __init__(self, auth: AuthConfig | None = None) -> None:
        self._auth = auth

    def _guard(self, details: grpc.HandlerCallDetails) -> Guard:
        if self._auth is None or details.method.startswith(EXEMPT_SERVICES):
            return _unguarded
        try:
            principal = self._auth.principal(details.invocation_metadata)
        except Unauthenticated as exc:
            failure = exc

            def refuse(message: Any) -> None:
                raise failure

            return refuse
        return lambda message: authorize(principal, message)

    async def intercept_service(  # type: ignore[override]
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        guard = self._guard(handler_call_details)
        kwargs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary_response(handler.unary_unary, method, guard, False), **kwargs
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream_response(handler.unary_stream, method, guard, False), **kwargs
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap_unary_response(handler.stream_unary, method, guard, True), **kwargs
            )
        return grpc.stream_stream_rpc_method_handler(
            _wrap_stream_response(handler.stream_stream, method, guard, True),  # type: ignore[arg-type]
            **kwargs,
        )
