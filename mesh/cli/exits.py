"""The CLI's exit statuses: one table for every verb (README, "Exit statuses"), so a scheduler
can tell "retry later" from "a human must fix the input" from "a bug" by the status alone.

Before, every failed call exited 2, argparse's status for a mistyped flag, so a service down, a
deadline, a bad id and a typo read the same (s19 R41-F1). The class comes from the call's
status code; the stable ErrorInfo reason (docs/errors.md) is printed beside it on stderr."""

from __future__ import annotations

import argparse

import grpc

from mesh.sdk.failures import RpcFailure

OK = 0
# The request or its input was refused (a service's INVALID_ARGUMENT, NOT_FOUND, …, or the
# CLI's own refusal of a flag's value): retrying the same command gives the same answer.
REFUSED = 1
# argparse's own status for a command line it cannot parse, and the CLI's checks of which
# flags go together, made before any call (nothing was sent).
USAGE = 2
# `check-claims --strict`: a claim the analyses do not support (its status since before this
# table; kept so no script reading it breaks).
UNSUPPORTED_CLAIM = 3
# A service was unreachable or busy: the same command may succeed later.
RETRY = 4
# The call ran out of time (the CLI's --timeout, or a deadline a service set for itself).
DEADLINE = 5
# A service failed (INTERNAL, UNKNOWN, DATA_LOSS, …): a bug to report, with the request id.
INTERNAL = 6

_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: REFUSED,
    grpc.StatusCode.FAILED_PRECONDITION: REFUSED,
    grpc.StatusCode.NOT_FOUND: REFUSED,
    grpc.StatusCode.ALREADY_EXISTS: REFUSED,
    grpc.StatusCode.PERMISSION_DENIED: REFUSED,
    grpc.StatusCode.UNAUTHENTICATED: REFUSED,
    grpc.StatusCode.OUT_OF_RANGE: REFUSED,
    grpc.StatusCode.UNAVAILABLE: RETRY,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RETRY,
    grpc.StatusCode.ABORTED: RETRY,
    grpc.StatusCode.DEADLINE_EXCEEDED: DEADLINE,
}


def exit_status(failure: RpcFailure) -> int:
    """The exit status a failed call ends the command with (INTERNAL for any code not named)."""
    return _STATUS.get(failure.code, INTERNAL)


def failure_text(failure: RpcFailure, args: argparse.Namespace | None = None) -> str:
    """``error [REASON]: CODE: message`` (``error: CODE: message`` without a reason), the field
    violations, a --timeout hint for a deadline, and the request id the services logged."""
    reason = f" [{failure.reason}]" if failure.reason else ""
    text = f"error{reason}: {failure}"
    if failure.code is grpc.StatusCode.DEADLINE_EXCEEDED and "--timeout" not in failure.message:
        # (the SDK's own analyze message names its ways to wait longer already)
        text += f"\n  ({deadline_hint(args)})"
    if failure.request_id:
        text += f"\n  (request id {failure.request_id})"
    return text


def deadline_hint(args: argparse.Namespace | None) -> str:
    """How long a call out of time waited and how to give it more: one wording for every verb
    (the surfacing verbs had their own, s19 closing). ``args.faster``, where a verb sets it,
    names a quicker way to the answer (recommend: skip the proposed experiments)."""
    timeout = getattr(args, "timeout", False)
    if timeout is False:
        return "the CLI waited its default 60 s; this verb takes no --timeout"
    hint = "give it more time with --timeout SECONDS"
    if timeout:
        hint = f"no answer within {timeout:g} s; {hint}, e.g. --timeout {max(4 * timeout, 300):g}"
    faster = getattr(args, "faster", "")
    return f"{hint}, or {faster}" if faster else hint
