"""The rendered book works offline in a real browser.

The book is built once into a fresh folder, served on 127.0.0.1 and every page of the toc is opened in
headless Debian Chromium (/usr/bin/chromium) driven by Playwright. For each page: no request leaves
127.0.0.1 and none fails, no JavaScript error, math is typeset by the local MathJax (no raw TeX left),
every image loads and has alt text or a caption, exercise solutions start hidden and open on a click, and
notebook pages offer their notebook for download and say how to run it.

Chapters may still be placeholders without math or exercises, so a small sample book with every feature
(built with the project's own _config.yml and _ext/) proves the checks can pass on such content, and a
deliberately broken page proves they can fail.

Chromium missing: skipped locally with the reason; with CI=true the tests fail instead.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import booksite  # scripts/booksite.py: build, serve and drive Chromium (shared with screenshots.py)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TOC_PAGES = booksite.page_paths()

# Console errors from the theme that the project cannot fix, with the reason. Empty: the one known
# error of Jupyter Book 1.0.4 ("Identifier 'THEBE_JS_URL' has already been declared", sphinx-thebe's
# inline script included twice) is gone because _ext/emlib_site.py removes the unused thebe assets.
KNOWN_THEME_ERRORS: dict[str, str] = {}

# Text that means TeX was not typeset (checked outside pre/code/script/style/textarea, as MathJax skips those).
RAW_TEX_MARKERS = ("\\(", "\\)", "\\[", "\\]", "$$", "\\begin{", "[Math Processing Error]")

# Runs before any page script: collects TeX errors that MathJax's noErrors/noUndefined would draw in red.
TEX_ERROR_HOOKS = """
window.__texErrors = [];
window.MathJax = {AuthorInit: function () {
  for (const kind of ["TeX Jax - parse error", "TeX Jax - undefined control sequence", "Math Processing Error"]) {
    MathJax.Hub.Register.MessageHook(kind, m => window.__texErrors.push(kind + ": " + String(m[1])));
  }
}};
"""

INSPECT_JS = """
() => {
  const skip = new Set(["SCRIPT", "STYLE", "PRE", "CODE", "TEXTAREA", "NOSCRIPT"]);
  const markers = __MARKERS__;
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let el = node.parentElement, skipped = false;
    for (; el; el = el.parentElement) { if (skip.has(el.tagName)) { skipped = true; break; } }
    if (skipped) continue;
    const text = node.textContent;
    if (markers.some(m => text.includes(m))) raw.push(text.trim().slice(0, 120));
  }
  const images = Array.from(document.images).map(img => ({
    src: img.currentSrc || img.src, complete: img.complete, width: img.naturalWidth,
    alt: (img.getAttribute("alt") || "").trim(),
    caption: !!(img.closest("figure") && img.closest("figure").querySelector("figcaption")),
    inArticle: !!img.closest("article"),
  }));
  return {
    raw,
    images,
    mathjaxLoaded: !!(window.MathJax && window.MathJax.Hub),
    typeset: document.querySelectorAll("script[type^='math/tex']").length,
    rendered: document.querySelectorAll(".MathJax, .MathJax_Display, .MathJax_SVG, mjx-container").length,
    texErrors: (window.__texErrors || []).concat(
        Array.from(document.querySelectorAll(".noError, .MathJax_Error")).map(e => e.textContent)),
    solutions: document.querySelectorAll("div.solution").length,
  };
}
""".replace("__MARKERS__", json.dumps(RAW_TEX_MARKERS))

# What makes the page wider than the window (elements inside a scrolling box are fine).
TOO_WIDE_JS = """
() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width) return [];
  const scrolls = el => { for (let p = el.parentElement; p; p = p.parentElement) {
      if (["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(p).overflowX)) return true; }
    return false; };
  return Array.from(document.querySelectorAll("article *"))
    .filter(el => el.getBoundingClientRect().right > width + 1 && !scrolls(el))
    .map(el => `<${el.tagName.toLowerCase()} class="${el.className}"> ${el.textContent.trim().slice(0, 60)}`)
    .slice(0, 8).concat([`page is ${document.documentElement.scrollWidth}px wide in a ${width}px window`]);
}
"""

# What a reader cannot see or reach (checked at both widths, with every solution opened). The theme never
# lets a page scroll sideways, so what sticks out is simply cut off; documentElement.scrollWidth shows
# nothing. An element is cut off if its own box clips its content (MathJax's output in a theme box with
# overflow: hidden), or if it reaches past the edge of the nearest box that clips it (or of the window)
# without a box that scrolls sideways in between: a display equation in a scrolling box is fine.
CUT_OFF_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const TOLERANCE = 8;  // px: a glyph's italic overhang clipped by its own box is not a cut-off formula
  const overflowX = el => getComputedStyle(el).overflowX;
  const scrolls = el => ["auto", "scroll"].includes(overflowX(el));
  const clips = el => ["hidden", "clip"].includes(overflowX(el));
  const describe = (el, why) => `<${el.tagName.toLowerCase()} class="${el.className}"> ${why}: `
      + Array.from(el.textContent.trim()).slice(0, 50).join("");
  const found = [];
  const selector = ["span.math.notranslate", "div.math", ".MathJax span.math", "table", "img"]
      .map(s => "article " + s).join(", ");
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not shown (a closed dropdown)
    if (clips(el) && el.scrollWidth > el.clientWidth + TOLERANCE) {
      found.push(describe(el, `shows ${el.clientWidth} of its ${el.scrollWidth} px`));
      continue;
    }
    let boundary = null;  // the nearest ancestor that scrolls or clips sideways
    for (let p = el.parentElement; p && !boundary; p = p.parentElement) {
      if (overflowX(p) !== "visible") boundary = p;
    }
    if (boundary && scrolls(boundary)) continue;  // the reader can scroll to the rest
    const room = boundary && boundary !== document.documentElement && boundary !== document.body
        ? boundary.getBoundingClientRect() : {left: 0, right: width};
    const left = Math.max(room.left, 0), right = Math.min(room.right, width);
    if (box.left < left - TOLERANCE || box.right > right + TOLERANCE) {
      found.push(describe(el, `spans ${Math.round(box.left)}..${Math.round(box.right)} px, `
          + `visible ${Math.round(left)}..${Math.round(right)}`));
    }
  }
  return found;
}
"""


@dataclass
class Visit:
    url: str
    settled: bool = False
    requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    solutions_hidden: list[bool] = field(default_factory=list)
    solutions_open_on_click: list[bool] = field(default_factory=list)
    downloads: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    run_line: str = ""
    too_wide_on_a_phone: list[str] = field(default_factory=list)
    cut_off: list[str] = field(default_factory=list)

    def remote_requests(self, base_url: str) -> list[str]:
        return [u for u in self.requests if not u.startswith((base_url, "data:", "blob:", "about:"))]

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(known in e for known in KNOWN_THEME_ERRORS)]


def visit(browser, base_url: str, path: str, *, click_solutions: bool = True, phone: bool = False) -> Visit:
    """Open ``base_url + path`` in a fresh browser context and record everything the checks need.

    ``phone``: a 390 px wide touch screen, and only what the reader sees is recorded (what is cut off,
    what makes the page too wide); the page is typeset at that width, as on a phone.
    """
    result = Visit(url=base_url + path)
    viewport = booksite.MOBILE if phone else booksite.DESKTOP
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone,
                                  service_workers="block")
    try:
        # Keep the machine offline and fast: anything not on the local server is recorded, then aborted.
        context.route(lambda url: not url.startswith(base_url), lambda route: route.abort())
        context.add_init_script(TEX_ERROR_HOOKS)
        page = context.new_page()
        page.on("request", lambda request: result.requests.append(request.url))
        page.on("response", lambda r: result.bad_responses.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        page.on("requestfailed", lambda r: result.bad_responses.append(f"failed {r.url}")
                if r.url.startswith(base_url) else None)
        page.on("pageerror", lambda error: result.errors.append(f"pageerror: {error}"))
        page.on("console", lambda m: result.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.goto(result.url, wait_until="load", timeout=60000)
        result.settled = booksite.settle(page)
        if phone:
            solutions = page.locator("div.solution > .admonition-title")
            for i in range(solutions.count()):
                solutions.nth(i).click()
            page.wait_for_timeout(700)  # the reveal's transition, then emlib_math_fit.js measures
            result.too_wide_on_a_phone = page.evaluate(TOO_WIDE_JS)
            result.cut_off = page.evaluate(CUT_OFF_JS)
            return result
        result.info = page.evaluate(INSPECT_JS)

        solutions = page.locator("div.solution")
        for i in range(solutions.count()):
            body = solutions.nth(i).locator(":scope > :not(.admonition-title)")
            result.solutions_hidden.append(body.count() > 0 and not any(
                body.nth(j).is_visible() for j in range(body.count())))
            if click_solutions:
                solutions.nth(i).locator(".admonition-title").click()
                page.wait_for_timeout(400)  # the reveal is a CSS transition
                result.solutions_open_on_click.append(body.first.is_visible())

        run_line = page.locator("p.emlib-run-locally")
        if run_line.count():
            result.run_line = run_line.first.inner_text()
        links = {"theme download button": "a.btn-download-source-button",
                 "run-it-yourself link": "p.emlib-run-locally a[download]"}
        for name, selector in links.items():
            link = page.locator(selector)
            if link.count():
                href = link.first.evaluate("a => a.href")
                response = context.request.get(href)
                result.downloads[name] = (response.status, href, response.text() if response.ok else "")

        if click_solutions:
            page.wait_for_timeout(400)  # emlib_math_fit.js measures the formulas just revealed
        result.cut_off = page.evaluate(CUT_OFF_JS)
    finally:
        context.close()
    return result


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser():
    reason = None
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        reason = f"playwright is not installed ({exc}); pip install -r requirements.txt"
    if reason is None:
        manager = sync_playwright().start()
        try:
            chromium = booksite.launch_chromium(manager)
        except (FileNotFoundError, PlaywrightError) as exc:
            manager.stop()
            reason = f"headless Chromium did not start: {exc}"
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    yield chromium
    chromium.close()
    manager.stop()


@pytest.fixture(scope="module")
def book_html(strict_book_build):
    result, html = strict_book_build
    if result.returncode != 0 or not (html / "index.html").exists():
        pytest.fail("the book did not build (tests/test_book_build.py shows why)")
    return html


@pytest.fixture(scope="module")
def book_url(book_html):
    with booksite.serve(book_html) as url:
        yield url


@pytest.fixture(scope="module")
def visits(browser, book_url):
    """One visit per page at desktop width, shared by the per-page tests below."""
    cache: dict[str, Visit] = {}

    def get(path: str) -> Visit:
        if path not in cache:
            cache[path] = visit(browser, book_url, path)
        return cache[path]

    return get


@pytest.fixture(scope="module")
def phone_visits(browser, book_url):
    """One visit per page on a 390 px wide phone screen."""
    cache: dict[str, Visit] = {}

    def get(path: str) -> Visit:
        if path not in cache:
            cache[path] = visit(browser, book_url, path, phone=True)
        return cache[path]

    return get


# ----------------------------------------------------------------------------------------- the real book


def built_pages(html: Path) -> set[str]:
    skip = {"_static", "_sources", "_images"}
    pages = {p.relative_to(html).as_posix() for p in html.rglob("*.html") if not skip & set(p.parts)}
    return pages - {"index.html"}  # index.html only redirects to the root page


def test_every_toc_page_was_built_and_nothing_else_but_indices(book_html):
    built = built_pages(book_html)
    assert set(TOC_PAGES) <= built, f"toc pages missing from the build: {set(TOC_PAGES) - built}"
    # Sphinx and its extensions write their index pages (genindex, search, py-modindex, prf-prf) at the top.
    stray = {page for page in built - set(TOC_PAGES) if "/" in page}
    assert not stray, f"pages built that are not in the toc: {stray}"


def test_generated_index_pages_work_offline(browser, book_html, book_url):
    generated = sorted(built_pages(book_html) - set(TOC_PAGES))
    assert "genindex.html" in generated and "search.html" in generated
    for path in generated:
        result = visit(browser, book_url, path)
        assert not result.remote_requests(book_url) and not result.bad_responses, (path, result.requests)
        assert not result.unexpected_errors(), (path, result.errors)
        assert not result.info["raw"] and not result.info["texErrors"], (path, result.info["raw"])
        assert not result.cut_off, (path, result.cut_off)
        on_a_phone = visit(browser, book_url, path, phone=True)
        assert not on_a_phone.too_wide_on_a_phone and not on_a_phone.cut_off, (path, on_a_phone)


def test_landing_page_lists_every_chapter():
    """book/intro.md has one line per chapter of the toc (add yours when it joins _toc.yml)."""
    intro = ROOT / "book" / "intro.md"
    listed = {f"book/{name}" for name in re.findall(r"^- \{doc\}`([^`]+)`", intro.read_text(encoding="utf-8"), re.MULTILINE)}
    chapters = set(booksite.toc_docnames()[1:])
    assert chapters <= listed, f"add a one-line entry to book/intro.md for: {sorted(chapters - listed)}"
    assert listed <= chapters, f"book/intro.md lists pages that are not in _toc.yml: {sorted(listed - chapters)}"


class _RemoteResourceFinder(HTMLParser):
    """Collects remote addresses a page would load: scripts, styles, fonts, images, frames, media."""

    LOADING: ClassVar[dict[str, str]] = {"script": "src", "img": "src", "iframe": "src", "source": "src", "audio": "src",
               "video": "src", "embed": "src", "track": "src", "object": "data", "input": "src"}

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_script_or_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        urls = []
        if tag in self.LOADING:
            urls.append(attrs.get(self.LOADING[tag]) or "")
        if tag in {"img", "source"} and attrs.get("srcset"):
            urls += [part.split()[0] for part in attrs["srcset"].split(",") if part.strip()]
        if tag == "link" and set((attrs.get("rel") or "").split()) & {
                "stylesheet", "preload", "modulepreload", "icon", "prefetch", "preconnect", "dns-prefetch"}:
            urls.append(attrs.get("href") or "")
        if "style" in attrs:
            urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", attrs["style"] or "")
        self.found += [f"<{tag}> {u}" for u in urls if _is_remote(u)]
        self._in_script_or_style = tag in {"script", "style"}

    def handle_endtag(self, tag):
        self._in_script_or_style = False

    def handle_data(self, data):
        if self._in_script_or_style:
            self.found += [f"inline: {u}" for u in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s'\"]*", data)]


def _is_remote(url: str) -> bool:
    return bool(re.match(r"^\s*(https?:)?//", url, re.IGNORECASE))


def test_no_remote_resources_in_built_files(book_html):
    problems = []
    for page in sorted(book_html.rglob("*.html")):
        if "_static" in page.parts:
            continue
        finder = _RemoteResourceFinder()
        finder.feed(page.read_text(encoding="utf-8"))
        problems += [f"{page.relative_to(book_html)}: {item}" for item in finder.found]
    for sheet in sorted(book_html.rglob("*.css")):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        for url in re.findall(r"(?:url\(\s*['\"]?|@import\s+['\"])([^'\")]+)", text):
            if _is_remote(url):
                problems.append(f"{sheet.relative_to(book_html)}: {url}")
    assert not problems, "remote resources in the built site:\n" + "\n".join(problems)


def test_mathjax_is_in_the_build(book_html):
    mathjax = book_html / "_static" / "mathjax"
    assert (mathjax / "MathJax.js").is_file()
    assert (mathjax / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
    assert list((mathjax / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").rglob("*.woff"))


def _math_in_source(html: Path, path: str) -> int:
    return (html / path).read_text(encoding="utf-8").count('class="math notranslate nohighlight')


@pytest.mark.parametrize("path", TOC_PAGES)
def test_page_requests_stay_local_and_succeed(visits, book_url, path):
    result = visits(path)
    assert not result.remote_requests(book_url), f"{path} asked for remote resources"
    assert not result.bad_responses, f"{path}: requests that failed: {result.bad_responses}"


@pytest.mark.parametrize("path", TOC_PAGES)
def test_page_has_no_javascript_errors(visits, path):
    assert not visits(path).unexpected_errors(), f"{path}: {visits(path).unexpected_errors()}"


@pytest.mark.parametrize("path", TOC_PAGES)
def test_page_math_is_typeset(visits, book_html, path):
    assert visits(path).settled, f"{path}: images, fonts or MathJax still busy after 90 s"
    info = visits(path).info
    assert not info["raw"], f"{path}: TeX left untypeset in the visible text: {info['raw'][:5]}"
    assert not info["texErrors"], f"{path}: TeX errors: {info['texErrors'][:5]}"
    if _math_in_source(book_html, path):
        assert info["mathjaxLoaded"], f"{path} has math but MathJax did not load"
        assert info["typeset"] >= _math_in_source(book_html, path) and info["rendered"] > 0, (
            f"{path}: MathJax typeset {info['typeset']} of {_math_in_source(book_html, path)} formulas")


@pytest.mark.parametrize("path", TOC_PAGES)
def test_page_images_load_and_are_described(visits, path):
    images = visits(path).info["images"]
    broken = [img["src"] for img in images if not img["complete"] or img["width"] == 0]
    assert not broken, f"{path}: images that did not load: {broken}"
    undescribed = [img["src"] for img in images if img["inArticle"] and not img["caption"]
                   and (not img["alt"] or re.search(r"\.(png|jpe?g|svg|gif)$", img["alt"], re.IGNORECASE))]
    assert not undescribed, (
        f"{path}: figures without alt text or caption (set cell metadata mystnb.image.alt or "
        f"mystnb.figure.caption): {undescribed}")


@pytest.mark.parametrize("path", TOC_PAGES)
def test_page_fits_a_phone_screen(phone_visits, path):
    assert not phone_visits(path).too_wide_on_a_phone, (
        f"{path} is wider than a {booksite.MOBILE['width']}px screen because of: "
        + "; ".join(phone_visits(path).too_wide_on_a_phone))


@pytest.mark.parametrize("path", TOC_PAGES)
def test_nothing_is_cut_off_on_a_phone(phone_visits, path):
    assert not phone_visits(path).cut_off, (
        f"{path} at {booksite.MOBILE['width']}px: cut off, and no way to scroll to the rest:\n"
        + "\n".join(phone_visits(path).cut_off))


@pytest.mark.parametrize("path", TOC_PAGES)
def test_nothing_is_cut_off_on_a_desktop(visits, path):
    assert not visits(path).cut_off, (
        f"{path} at {booksite.DESKTOP['width']}px: cut off, and no way to scroll to the rest:\n"
        + "\n".join(visits(path).cut_off))


@pytest.mark.parametrize("path", TOC_PAGES)
def test_page_solutions_start_hidden(visits, path):
    result = visits(path)
    assert all(result.solutions_hidden), (
        f"{path}: {result.solutions_hidden.count(False)} solution(s) visible before a click; "
        "give every {solution} the option ':class: dropdown'")
    assert all(result.solutions_open_on_click), f"{path}: a solution did not open when clicked"


@pytest.mark.parametrize("path", TOC_PAGES)
def test_notebook_pages_offer_the_notebook_and_say_how_to_run_it(visits, book_html, path):
    source = book_html / "_sources" / Path(path).with_suffix(".ipynb")
    if not source.exists():
        assert not visits(path).run_line, f"{path} is not a notebook but has the run-it-yourself line"
        return
    result = visits(path)
    assert "pip install -r requirements.txt" in result.run_line and "jupyter lab" in result.run_line
    assert set(result.downloads) == {"theme download button", "run-it-yourself link"}, result.downloads
    for name, (status, href, text) in result.downloads.items():
        assert status == 200 and href.endswith(".ipynb"), f"{path}: {name} -> {status} {href}"
        assert json.loads(text)["nbformat"] == 4, f"{path}: {name} did not give a notebook"


# ----------------------------------------------------------------------- a sample page with every feature


def _figure_png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=60)
    ax.plot([0, 1, 2], [0, 1, 4])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


SAMPLE_MARKDOWN = r"""# Sample chapter

Inline math $p(x \mid \theta)$ and a numbered equation:

$$
\log p(x \mid \theta) = \log \sum_{z} p(x, z \mid \theta) \ge \mathcal{L}(q, \theta)
$$ (eq-sample-bound)

A formula too long for a phone's line (on one source line: split over two, MyST left it as text), which
emlib_math_fit.js puts in a scrolling box of its own:
$Q(\theta) = \sum_i \sum_{k \in \{A, B\}} r_{ik} \left[\log \tfrac12 + h_i \log\theta_k + t_i \log(1-\theta_k)\right] + \sum_i \sum_k r_{ik} \log r_{ik}$,
and a display equation wider than a
phone, which scrolls in its box (and fades at the edge to show that it does):

$$
\log p(X \mid \theta) = \sum_{n=1}^{N} \log \sum_{k=1}^{K} \pi_k \,
\mathcal{N}(x_n \mid \mu_k, \Sigma_k) \ge \sum_{n=1}^{N} \sum_{k=1}^{K} r_{nk}
\log \frac{\pi_k \, \mathcal{N}(x_n \mid \mu_k, \Sigma_k)}{r_{nk}}
$$

Short formulas with an accent stay in their sentence: the statistics $\hat s$ enter the running
average as $s \leftarrow (1-\rho_t)s + \rho_t \hat s$, the bound $\tilde\ell$ of the data
$\tilde r$, the estimate $\hat\theta$ and the count $N_1 = N\hat\pi$.

Equation {eq}`eq-sample-bound` again, and an amsmath environment:

\begin{align}
a &= b + c \\
d &= \frac{e}{f}
\end{align}

```{prf:theorem} Monotonicity
:label: thm-sample

EM never decreases $\log p(x \mid \theta)$.
```
"""

SAMPLE_EXERCISE = r"""## Exercises

```{exercise}
:label: ex-sample-1

Show that $\sum_k r_{nk} = 1$.
```

```{solution} ex-sample-1
:class: dropdown

Because $r_{nk} = \pi_k \mathcal{N}(x_n \mid \mu_k, \Sigma_k) / \sum_j \pi_j \mathcal{N}(x_n \mid \mu_j, \Sigma_j)$.
```
"""


def _sample_notebook(png: bytes) -> dict:
    image = base64.b64encode(png).decode("ascii")
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python", "pygments_lexer": "ipython3"},
        },
        "cells": [
            {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": SAMPLE_MARKDOWN},
            {"cell_type": "code", "id": "c1", "execution_count": 1, "metadata": {},
             "source": "print('a dollar $5 and a regex \\\\d+')",
             "outputs": [{"output_type": "stream", "name": "stdout", "text": "a dollar $5 and a regex \\d+\n"}]},
            {"cell_type": "code", "id": "c2", "execution_count": 2,
             "metadata": {"mystnb": {"image": {"alt": "A parabola through three points."}}},
             "source": "plt.plot([0, 1, 2], [0, 1, 4])\nplt.show()",
             "outputs": [{"output_type": "display_data", "metadata": {},
                          "data": {"image/png": image, "text/plain": "<Figure>"}}]},
            {"cell_type": "markdown", "id": "m2", "metadata": {}, "source": SAMPLE_EXERCISE},
        ],
    }


@pytest.fixture(scope="module")
def sample_html(tmp_path_factory):
    """A two-page book built with the project's _config.yml and _ext/: a markdown page and a notebook."""
    source = tmp_path_factory.mktemp("sample_src")
    shutil.copy(ROOT / "_config.yml", source / "_config.yml")
    shutil.copytree(ROOT / "_ext", source / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    (source / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: sample\n  - file: texerror\n")
    (source / "texerror.md").write_text(
        "# Broken TeX\n\nAn undefined macro $\\undefinedmacro{x}$ and a parse error $\\frac{a$.\n",
        encoding="utf-8")
    (source / "figure.png").write_bytes(_figure_png())
    (source / "intro.md").write_text(
        "# Sample intro\n\nThe likelihood $L(\\theta)$.\n\n![A small line plot.](figure.png)\n\n"
        + SAMPLE_EXERCISE.replace("ex-sample-1", "ex-sample-intro"),
        encoding="utf-8")
    (source / "sample.ipynb").write_text(json.dumps(_sample_notebook(_figure_png())), encoding="utf-8")
    return booksite.build_book(tmp_path_factory.mktemp("sample_out"), source=source, strict=True)


@pytest.fixture(scope="module")
def sample_url(sample_html):
    with booksite.serve(sample_html) as url:
        yield url


@pytest.mark.parametrize("path", ["intro.html", "sample.html"])
def test_sample_pages_pass_every_check(browser, sample_html, sample_url, path):
    result = visit(browser, sample_url, path)
    info = result.info
    assert not result.remote_requests(sample_url) and not result.bad_responses, result.requests
    assert not result.unexpected_errors(), result.errors
    assert not info["raw"] and not info["texErrors"], (info["raw"], info["texErrors"])
    in_source = _math_in_source(sample_html, path)
    assert in_source >= 2 and info["typeset"] >= in_source and info["rendered"] >= in_source
    assert info["images"] and all(img["complete"] and img["width"] > 0 for img in info["images"])
    assert all(img["alt"] and not img["alt"].endswith(".png") for img in info["images"] if img["inArticle"])
    assert result.solutions_hidden == [True] and result.solutions_open_on_click == [True]
    assert not result.cut_off, result.cut_off
    on_a_phone = visit(browser, sample_url, path, phone=True)
    assert not on_a_phone.cut_off and not on_a_phone.too_wide_on_a_phone, on_a_phone
    if path == "sample.html":
        assert "pip install -r requirements.txt" in result.run_line
        assert {status for status, _, _ in result.downloads.values()} == {200}
        assert len(result.downloads) == 2
    else:
        assert not result.run_line


# Each inline formula (by its TeX) with what emlib_math_fit.js made of it; the wide display equations' fade
# classes; the link text of the solutions' titles.
MATH_FIT_JS = """
() => {
  const formulas = {};
  for (const span of document.querySelectorAll("article span.math.notranslate")) {
    const script = span.querySelector('script[type^="math/tex"]');
    if (!script) continue;
    formulas[script.textContent.trim()] = {classes: span.className, display: getComputedStyle(span).display,
                                           width: span.getBoundingClientRect().width};
  }
  return {
    formulas,
    displays: Array.from(document.querySelectorAll("article div.math"), div => div.className),
    solutionLinks: Array.from(document.querySelectorAll("div.solution > .admonition-title a"), a => a.textContent),
  };
}
"""

ACCENTED_SHORT_FORMULAS = [r"\hat s", r"s \leftarrow (1-\rho_t)s + \rho_t \hat s", r"\tilde\ell", r"\tilde r",
                           r"\hat\theta", r"N_1 = N\hat\pi"]


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_sample_math_fit_moves_only_formulas_wider_than_their_line(browser, sample_url, phone):
    """emlib_math_fit.js gives a line of its own only to an inline formula wider than its line.

    An accent (\\hat s) is a glyph whose box reaches past the formula, so the formula's box has a
    scrollWidth larger than its clientWidth although it fits: measuring that once took every accented
    formula out of its sentence. A display equation too wide for a phone scrolls and shows it (a fade).
    """
    viewport = booksite.MOBILE if phone else booksite.DESKTOP
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, service_workers="block")
    try:
        context.route(lambda url: not url.startswith(sample_url), lambda route: route.abort())
        page = context.new_page()
        page.goto(sample_url + "sample.html", wait_until="load")
        assert booksite.settle(page)
        page.wait_for_timeout(300)
        result = page.evaluate(MATH_FIT_JS)
    finally:
        context.close()
    formulas = result["formulas"]
    for tex in ACCENTED_SHORT_FORMULAS:
        assert tex in formulas, (tex, sorted(formulas))
        assert "emlib-wide-math" not in formulas[tex]["classes"], (tex, formulas[tex])
        assert formulas[tex]["display"] == "inline-flex", (tex, formulas[tex])
    long_formula = next((f for tex, f in formulas.items() if tex.startswith("Q(\\theta)")), None)
    assert long_formula, sorted(formulas)
    assert result["solutionLinks"] and all(text == text.strip() for text in result["solutionLinks"]), (
        result["solutionLinks"])
    if phone:
        assert "emlib-wide-math" in long_formula["classes"], long_formula
        assert any("emlib-more-right" in classes for classes in result["displays"]), result["displays"]
    else:
        assert not any("emlib-more" in classes for classes in result["displays"]), result["displays"]


def test_sample_math_uses_the_stix_web_fonts(browser, sample_url):
    """MathJax draws with the shipped STIX-Web fonts (not image fonts, not missing TeX fonts)."""
    result = visit(browser, sample_url, "sample.html", click_solutions=False)
    fonts = [u for u in result.requests if "/_static/mathjax/fonts/" in u]
    assert fonts and all("/STIX-Web/woff/" in u for u in fonts), fonts
    assert not any("/png/" in u or "/TeX/" in u for u in result.requests if "/fonts/" in u)


def test_sample_math_is_typeset_when_opened_as_files(browser, sample_html):
    """Opening _build/html/... directly (file://) still typesets; web fonts may fall back there."""
    context = browser.new_context(service_workers="block")
    try:
        page = context.new_page()
        page.goto((sample_html / "sample.html").as_uri(), wait_until="load")
        assert booksite.settle(page)
        info = page.evaluate(INSPECT_JS)
    finally:
        context.close()
    assert not info["raw"], info["raw"]
    assert info["typeset"] >= _math_in_source(sample_html, "sample.html") and info["rendered"] > 0


BROKEN_PAGE = r"""<!DOCTYPE html><html><head><title>broken</title></head><body><article>
<p>\(x^2\) never typeset</p>
<img src="https://example.invalid/remote.png" alt="remote">
<img src="missing.png" alt="missing">
<img src="figure.png">
<div class="solution admonition"><p class="admonition-title">Solution</p><p>visible answer</p></div>
<table style="width: 3000px"><tr><td>a table wider than any screen</td></tr></table>
<p style="width: 200px"><span class="math notranslate" style="display: inline-flex; max-width: 100%;
overflow: hidden; white-space: nowrap">a formula whose end its own box hides from view</span></p>
<script>undefinedFunctionForTheTest();</script>
</article></body></html>
"""


def test_checks_catch_a_broken_page(browser, sample_html, sample_url):
    """Every check fails on a page that has the problem it looks for."""
    shutil.copy(sample_html / "_images" / next(p.name for p in (sample_html / "_images").iterdir()),
                sample_html / "figure.png")
    (sample_html / "broken.html").write_text(BROKEN_PAGE, encoding="utf-8")
    result = visit(browser, sample_url, "broken.html", click_solutions=False)
    info = result.info
    assert result.remote_requests(sample_url) == ["https://example.invalid/remote.png"]
    assert any("missing.png" in r and r.startswith("404") for r in result.bad_responses)
    assert any("undefinedFunctionForTheTest" in e for e in result.unexpected_errors())
    assert any("x^2" in text for text in info["raw"])
    assert sorted(img["src"].rsplit("/", 1)[-1] for img in info["images"]
                  if not img["complete"] or img["width"] == 0) == ["missing.png", "remote.png"]
    assert [img["alt"] for img in info["images"] if img["src"].endswith("/figure.png")] == [""]
    assert result.solutions_hidden == [False]
    cut_off = " ".join(result.cut_off)
    assert "wider than any screen" in cut_off and "whose end its own box hides" in cut_off, result.cut_off


def test_checks_catch_tex_errors(browser, sample_url):
    info = visit(browser, sample_url, "texerror.html").info
    assert any("undefinedmacro" in e for e in info["texErrors"]), info["texErrors"]
    assert any("parse error" in e for e in info["texErrors"]), info["texErrors"]
