"""The SDK's LLM calls: context, explanations, claim checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import grpc
import liftos_dc.liftos.v1 as dc
from liftos.v1 import llm_pb2 as llm_pb

from mesh.sdk._base import ClientBase, choice
from mesh.sdk.failures import RpcFailure


class LlmCalls(ClientBase):
    """LlmService, through LiftOS."""

    # -- llm: grounded language over analyses -----------------------------------------------
    def build_context(
        self,
        analysis_ids: Sequence[str],
        *,
        audience: str = "analyst",
        question: str = "",
        org_id: str | None = None,
    ) -> dc.BuildContextResponse:
        """Ranked insights, the context document (every figure with its analysis and field)
        and the reasoning prompts for an LLM; ``audience``: executive, analyst, data_scientist."""
        request = llm_pb.BuildContextRequest(
            org_id=self._org(org_id), analysis_ids=list(analysis_ids), question=question,
            audience=_audience(audience),
        )  # fmt: skip
        reply = self._unary(lambda: self._llm.BuildContext(request))
        return dc.BuildContextResponse.parse(reply.SerializeToString())

    def explain(
        self,
        analysis_id: str,
        *,
        audience: str = "analyst",
        question: str = "",
        writer: str = "",
        llm_url: str = "",
        llm_model: str = "",
        on_delta: Callable[[str], object] | None = None,
        org_id: str | None = None,
    ) -> dc.ExplanationDone:
        """A grounded explanation of an analysis. Text deltas go to ``on_delta`` as they
        arrive; the result holds the full text, its citations and any claims the guardrail
        removed or rewrote. The text opens with what changed under the analysis's window
        since it was made ("Caveat: …", as ``check_analysis_data`` words it), or that this
        could not be checked. ``writer``: "" (the server's default), "grounded" or "llm";
        ``llm_url``/``llm_model``: an OpenAI-compatible endpoint the server may call."""
        request = llm_pb.ExplainRequest(
            org_id=self._org(org_id), analysis_id=analysis_id, question=question,
            audience=_audience(audience),
            writer=choice(llm_pb.ExplanationWriter, "EXPLANATION_WRITER_", writer, "writer"),  # type: ignore[arg-type]
            llm=llm_pb.LlmEndpoint(url=llm_url, model=llm_model),
        )  # fmt: skip
        try:
            for reply in self._llm.Explain(request):
                if reply.WhichOneof("event") == "text_delta":
                    if on_delta is not None:
                        on_delta(reply.text_delta)
                else:
                    return dc.ExplanationDone.parse(reply.done.SerializeToString())
        except grpc.RpcError as exc:
            raise RpcFailure.from_rpc_error(exc) from None
        raise RpcFailure(
            grpc.StatusCode.INTERNAL, "the explanation ended without its final message"
        )

    def check_claims(
        self, text: str, analysis_ids: Sequence[str], *, org_id: str | None = None
    ) -> list[dc.ClaimCheck]:
        """Each causal claim in ``text`` with its verdict against the analyses
        (associational and hedged wording is not a claim and is not listed)."""
        request = llm_pb.CheckClaimsRequest(
            org_id=self._org(org_id), text=text, analysis_ids=list(analysis_ids)
        )
        reply = self._unary(lambda: self._llm.CheckClaims(request))
        return list(dc.CheckClaimsResponse.parse(reply.SerializeToString()).claims)


def _audience(name: str) -> llm_pb.Audience.ValueType:
    return choice(llm_pb.Audience, "AUDIENCE_", name, "audience")  # type: ignore[return-value]
