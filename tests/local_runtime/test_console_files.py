"""The console's files (console/) stay plain, local and text-only, checked without a browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local_runtime.console_site import CONSOLE_DIR

SCRIPTS = sorted(CONSOLE_DIR.glob("*.js"))
HTML_SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setHTML"
)


def test_the_console_is_the_four_plain_files() -> None:
    assert sorted(p.name for p in CONSOLE_DIR.iterdir()) == ["app.js", "index.html", "srp.js", "style.css"]


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_no_script_parses_text_as_html_or_code(script: Path) -> None:
    assert HTML_SINKS.findall(script.read_text(encoding="utf-8")) == []


def test_nothing_is_loaded_from_another_origin() -> None:
    """No CDN (the network is closed, and the CSP allows only the page's origin)."""
    for file in CONSOLE_DIR.iterdir():
        text = file.read_text(encoding="utf-8")
        assert re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text) == [], file.name
        assert re.findall(r"""\\bimport\\s.*from\\s+["'](?!\\./)""", text) == [], file.name
    html = (CONSOLE_DIR / "index.html").read_text(encoding="utf-8")
    assert '<script type="module" src="app.js"></script>' in html
    assert "<script>" not in html  # no inline script: the CSP has no 'unsafe-inline'
    assert re.findall(r"\son[a-z]+\s*=", html) == []  # no inline event handlers either
    assert " style=" not in html
