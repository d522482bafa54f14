"""The page forbids script and fetches by its own Content-Security-Policy (R22-F11): were a data
string ever to slip through unescaped, it could neither run nor load anything."""

from __future__ import annotations

from pathlib import Path

from mesh.report import render_report
from tests.report.channels import channel_analysis

INJECTED = (
    "<script>document.title = 'script ran'</script>"
    '<img src="http://127.0.0.1:9/pixel.png" alt="">'
    "<style>@import url('http://127.0.0.1:9/x.css');</style>"
)


def test_injected_script_and_fetches_are_refused(browser, tmp_path: Path) -> None:
    html = render_report(channel_analysis(["tiktok", "meta_prospecting"]))
    # What a missed escape would leave in the page.
    path = tmp_path / "policy.html"
    path.write_text(html.replace("<footer>", INJECTED + "<footer>", 1), encoding="utf-8")
    page = browser.new_page()  # type: ignore[attr-defined]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith("file:") else None)
    refused: list[str] = []
    page.on("requestfailed", lambda r: refused.append(f"{r.url} {r.failure}"))
    try:
        page.goto(path.as_uri(), wait_until="load")
        title = page.title()
        figures = page.evaluate("() => document.querySelectorAll('figure.fig svg').length")
    finally:
        page.close()
    assert title == "What each channel caused: revenue"
    # Chromium reports a request the policy blocked as one that failed with "csp": none left.
    assert len(requests) == 2 and sorted(refused) == sorted(f"{u} csp" for u in requests), refused
    assert figures == 2  # the page's own inline SVG and styles still render
