"""The report as a person sees it: ``index.html`` rendered by headless Chromium at a
phone's width and a wide screen's, every table and every figure on screen, and the
figures' pixels not blank.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright`` package
(the dev extra), which drives that browser; it downloads no browser of its own. Without
them the tests skip, except where ``VERIFY_REQUIRE_BROWSER`` is set (``.ci/run`` sets
it), where they fail.
"""

from __future__ import annotations

import io
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.test_report import build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage"]
VIEWPORTS = {"phone": (390, 844), "wide": (1366, 900)}


def _missing() -> str | None:
    if CHROMIUM is None:
        return "no chromium on PATH (Debian package chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


def _require_browser() -> None:
    reason = _missing()
    if reason is not None:
        if os.environ.get("VERIFY_REQUIRE_BROWSER"):
            pytest.fail(f"VERIFY_REQUIRE_BROWSER is set, but: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(page_file):
    """Started after the report is built (a running browser slowed the build fivefold)."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        instance = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    _require_browser()  # before the build: without a browser it would be built for nothing
    out = tmp_path_factory.mktemp("browser") / "reports"
    build(out)
    return out


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _ink(pixels: np.ndarray) -> float:
    """Fraction of pixels that are not (near) white."""
    return float(np.mean(np.any(pixels < 235, axis=-1)))


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_table_and_figure_is_visible(browser, page_file, viewport):
    width, height = VIEWPORTS[viewport]
    doc = json.loads((page_file / "report.json").read_text())
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto((page_file / "index.html").as_uri(), wait_until="load")
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests

    # nothing wider than the screen: no sideways scrolling of the page itself
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1

    full = _pixels(page.screenshot(full_page=True))
    page_height = page.evaluate("document.documentElement.scrollHeight")
    assert full.shape[1] == width and full.shape[0] >= min(page_height, 16000) - 1

    tables = page.locator("table")
    assert tables.count() >= 7
    for index in range(tables.count()):
        table = tables.nth(index)
        table.scroll_into_view_if_needed()
        box = table.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 40, index
        assert table.locator("tbody tr").count() >= 1
        shot = _pixels(table.screenshot())
        assert _ink(shot) > 0.02, f"table {index} renders blank"

    images = page.locator("figure img")
    assert images.count() == len(doc["figures"])
    for index in range(images.count()):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        name = image.evaluate("e => e.parentElement.id")
        assert image.evaluate("e => e.complete && e.naturalWidth > 0"), name
        natural = image.evaluate("e => [e.naturalWidth, e.naturalHeight]")
        meta = doc["figures"][name]
        assert natural == [meta["width"], meta["height"]], name
        box = image.bounding_box()
        column = image.evaluate("e => e.parentElement.clientWidth")
        assert box["width"] >= min(column, meta["width"]) - 2, name  # fills its column
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, name
        shot = _pixels(image.screenshot())
        assert shot.shape[0] > 100 and shot.shape[1] > 200, name
        assert _ink(shot) > 0.01, f"{name} renders blank"
        assert len(np.unique(shot.reshape(-1, 3), axis=0)) > 16, f"{name} has no detail"
    page.close()


def test_the_verdicts_are_coloured(browser, page_file):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto((page_file / "index.html").as_uri())
    badge = page.locator("#claims-table .verdict").first
    colour = badge.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent", "rgb(255, 255, 255)")
    page.close()


def _assert_fits(table, page_width: int) -> None:
    """The table is no wider than the page: its last column on screen, its long cells
    wrapped, no cell's content clipped. (A scroll container would hide a table that is too
    wide from the page's own scroll width.)"""
    name = table.evaluate("e => e.id")
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= page_width, (name, box, page_width)
    last = table.locator("thead th").last.bounding_box()
    assert last["x"] + last["width"] <= page_width, f"{name}: the last column is cut off"
    holder = table.evaluate("e => [e.parentElement.scrollWidth, e.parentElement.clientWidth]")
    assert holder[0] <= holder[1] + 1, f"{name} overflows what holds it: {holder}"
    clipped = table.evaluate("""t => [...t.querySelectorAll('th, td')]
        .filter(c => c.scrollWidth > c.clientWidth + 1)
        .map(c => `${c.dataset.label || c.textContent}: ${c.scrollWidth} > ${c.clientWidth}`)""")
    assert clipped == [], name
    assert table.locator("tbody tr").count() >= 1, name


@pytest.mark.parametrize("viewport", [(1366, 768), (1024, 768)], ids=["1366x768", "1024x768"])
def test_the_claims_table_fits_a_laptop_screen(browser, page_file, viewport):
    """On a laptop's screen the claims table is no wider than the page."""
    width, height = viewport
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto((page_file / "index.html").as_uri(), wait_until="load")
    _assert_fits(page.locator("#claims-table"),
                 page.evaluate("document.documentElement.clientWidth"))
    page.close()


def test_the_models_tables_fit_a_laptop_screen(browser, page_file):
    """At 1366x768 the models section's tables (the targets, and each target's findings,
    with their long replay commands and citations) are no wider than the page."""
    doc = json.loads((page_file / "report.json").read_text())
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto((page_file / "index.html").as_uri(), wait_until="load")
    page_width = page.evaluate("document.documentElement.clientWidth")
    anchors = ["models-table", *(f"{row['anchor']}-findings" for row in doc["models"]["rows"]
                                 if row["findings"])]
    assert len(anchors) >= 2
    for anchor in anchors:
        _assert_fits(page.locator(f"#{anchor}"), page_width)
    badge = page.locator(f"#{anchors[1]} .verdict").first
    colour = badge.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent", "rgb(255, 255, 255)")
    page.close()
