"""The SDK's deadline message names the way to allow longer for both of its callers: an SDK
caller's ``timeout=`` and a CLI user's ``--timeout`` (R35 F3: the CLI printed only the SDK's
parameter)."""

from __future__ import annotations

import grpc

from mesh.sdk.causal import _deadline_failure


class _Expired(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """A DEADLINE_EXCEEDED as a grpc channel raises it (no status details)."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.DEADLINE_EXCEEDED

    def details(self) -> str:
        return "Deadline Exceeded"

    def trailing_metadata(self) -> tuple[()]:
        return ()

    def initial_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return 0.0

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: object) -> bool:
        return False


def test_a_caller_deadline_names_the_sdk_parameter_the_cli_flag_and_the_env() -> None:
    failure = _deadline_failure(_Expired(), 900.0)
    assert failure.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "within its 900 s deadline" in failure.message, failure.message
    for way in ("timeout=", "--timeout SECONDS", "LIFTOS_ANALYSIS_TIMEOUT"):
        assert way in failure.message, failure.message


def test_the_servers_own_deadline_is_left_as_reported() -> None:
    failure = _deadline_failure(_Expired(), None)
    assert "--timeout" not in failure.message and "Deadline Exceeded" in failure.message
