"""Build the book, serve it on 127.0.0.1 and drive Debian's Chromium over it.

Shared by ``tests/test_browser.py`` (checks every page) and ``scripts/screenshots.py`` (pictures of every
page for a person to review). Chromium is the system browser at /usr/bin/chromium (Debian package
``chromium``), driven by Playwright's Python package; Playwright never downloads a browser here.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("EMLIB_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's services at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
]
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}
# Pages Sphinx writes besides the toc's documents.
GENERATED_PAGES = ("genindex.html", "search.html", "py-modindex.html")


def toc_docnames(root: Path = ROOT) -> list[str]:
    """Document names in ``_toc.yml`` (root first, then in reading order), e.g. ``book/two_coins``."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entry):
        if isinstance(entry, dict):
            if "glob" in entry:
                raise ValueError("_toc.yml globs are not supported by the page list; list each file")
            if "file" in entry:
                names.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                for child in entry.get(key, []):
                    walk(child)
        elif isinstance(entry, list):
            for child in entry:
                walk(child)

    walk(toc)
    return [str(Path(name).with_suffix("")) if Path(name).suffix in {".md", ".ipynb"} else name
            for name in names]


def jupyter_book_executable() -> str:
    """The ``jupyter-book`` of the running Python's environment.

    Not simply the first on ``PATH``: a different environment's ``jupyter-book`` may not import
    emlib, and autodoc would then leave the API reference empty (silently, unless strict).
    """
    beside = Path(sys.executable).with_name("jupyter-book")
    found = str(beside) if beside.exists() else shutil.which("jupyter-book")
    if found is None:
        raise RuntimeError("jupyter-book is not installed (pip install -r requirements.txt)")
    return found


def run_build(output: Path, source: Path = ROOT, strict: bool = True,
              timeout: int = 900) -> subprocess.CompletedProcess:
    """Run ``jupyter-book build`` on ``source`` into the fresh folder ``output``; return the process.

    ``strict`` adds ``-n -W --keep-going``: any warning fails the build. The HTML is written to
    ``output / "_build" / "html"``.
    """
    command = [jupyter_book_executable(), "build", str(source), "--path-output", str(output)]
    if strict:
        command += ["-n", "-W", "--keep-going"]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout)


def build_book(output: Path, source: Path = ROOT, strict: bool = True, timeout: int = 900) -> Path:
    """Build as :func:`run_build` does and return the HTML folder; raise if the build failed."""
    result = run_build(output, source, strict, timeout)
    html = output / "_build" / "html"
    if result.returncode != 0 or not (html / "index.html").exists():
        log = result.stdout + result.stderr
        raise RuntimeError(f"book build failed (exit {result.returncode}):\n{log[-6000:]}")
    return html


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (a free port) and yield its base URL (ends with /)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def launch_chromium(playwright):
    """Start headless Debian Chromium through Playwright (raises if it cannot start)."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium); "
            ".ci/run does this in CI"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


# Loads lazy images now, waits for them, for web fonts and for MathJax's typesetting queue to empty;
# gives up after timeoutMs (the checks that follow then report what is unfinished) rather than hang.
_SETTLE_JS = """
async (timeoutMs) => {
  const settled = (async () => {
    for (const img of document.images) { img.loading = "eager"; }
    await Promise.all(Array.from(document.images).map(img => img.complete ? null :
        new Promise(done => { img.addEventListener("load", done); img.addEventListener("error", done); })));
    if (document.querySelector("script[src*='MathJax.js']")) {
      while (!(window.MathJax && MathJax.Hub && MathJax.isReady)) { await new Promise(r => setTimeout(r, 50)); }
      await new Promise(done => MathJax.Hub.Queue(done));
    }
    await document.fonts.ready;
    return true;
  })();
  const timeout = new Promise(done => setTimeout(() => done(false), timeoutMs));
  return Promise.race([settled, timeout]);
}
"""


def settle(page, timeout_ms: int = 90000) -> bool:
    """Wait until images, web fonts and MathJax have finished on ``page``; False if that took too long."""
    page.wait_for_load_state("load", timeout=timeout_ms)
    return page.evaluate(_SETTLE_JS, timeout_ms)


def page_paths(root: Path = ROOT) -> list[str]:
    """Paths (relative to the site) of the built pages of every document in the toc."""
    return [f"{name}.html" for name in toc_docnames(root)]
