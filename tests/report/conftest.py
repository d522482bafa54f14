"""One headless Chromium for every report test (Debian's ``chromium``, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.report.analyses import effect_analysis

CHROMIUM_ENV = "LIFTOS_CHROMIUM"


def chromium_path() -> str | None:
    """``LIFTOS_CHROMIUM``, else the Debian package's ``chromium`` on PATH."""
    return (
        os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")
    )


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    exe = chromium_path()
    if exe is None:
        pytest.fail("chromium not installed: run `make setup` (installs the Debian package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=exe, args=["--disable-gpu", "--font-render-hinting=none"]
        )
        yield b
        b.close()


@dataclass
class Opened:
    """A report as the browser shows it: console errors, every figure's box, a screenshot."""

    errors: list[str] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    overlaps: list[str] = field(default_factory=list)
    text: str = ""
    screenshot: Path | None = None


# Every figure's rendered box; any two text labels inside one SVG whose boxes intersect, and any
# label running past the figure's edge.
_INSPECT = """() => {
  const out = {figures: [], overlaps: []};
  for (const f of document.querySelectorAll('figure.fig')) {
    const svg = f.querySelector('svg');
    const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    out.figures.push({id: f.id, kind: f.dataset.figure, width: r.width, height: r.height,
                      marks: svg ? svg.querySelectorAll('path, use, rect').length : 0});
    if (!svg) continue;
    const boxes = [...svg.querySelectorAll('text')]
      .map(t => [t.textContent.trim(), t.getBoundingClientRect()])
      .filter(([s, b]) => s && b.width > 0);
    for (const [s, b] of boxes) {
      if (b.left < r.left - 1 || b.right > r.right + 1 || b.top < r.top - 1 || b.bottom > r.bottom + 1)
        out.overlaps.push(`${f.id}: "${s}" is cut off at the figure's edge`);
    }
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, p] = boxes[i], [b, q] = boxes[j];
      const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
      const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
      if (w > 1 && h > 1) out.overlaps.push(`${f.id}: "${a}" overlaps "${b}"`);
    }
  }
  return out;
}"""


def open_report(browser: object, html: str, path: Path, *, screenshot: bool = True) -> Opened:
    """Write the page, open it from disk, and read back what rendered."""
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1000, "height": 1400})  # type: ignore[attr-defined]
    opened = Opened()
    page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: opened.errors.append(str(e)))
    page.on("requestfailed", lambda r: opened.errors.append(f"request failed: {r.url}"))
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith(("file:", "data:"))
            else opened.errors.append(f"network request: {r.url}")
        ),
    )
    page.goto(path.as_uri(), wait_until="load")
    found = page.evaluate(_INSPECT)
    opened.figures, opened.overlaps = found["figures"], found["overlaps"]
    opened.text = page.inner_text("body")
    if screenshot:
        opened.screenshot = path.with_suffix(".png")
        page.screenshot(path=str(opened.screenshot), full_page=True)
    page.close()
    return opened


@pytest.fixture(scope="package")
def analyses() -> dict[str, object]:
    """Built on first use, shared by the package's tests."""
    return _Lazy()


class _Lazy(dict):
    def __missing__(self, name: str) -> object:
        self[name] = effect_analysis(name)
        return self[name]
