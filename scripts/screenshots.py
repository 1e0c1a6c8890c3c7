"""Write a PNG screenshot of every page of the book, at desktop and at phone width, for a person to review.

Usage (from the repository root):

    python scripts/screenshots.py OUTDIR                 # builds the book (strictly) into a temporary folder first
    python scripts/screenshots.py OUTDIR --html _build/html --page two_coins

Writes ``OUTDIR/<page>--desktop.png`` (1280 px wide) and ``OUTDIR/<page>--mobile.png`` (390 px wide), full
page, after MathJax, images and web fonts have finished. Uses Debian's Chromium (/usr/bin/chromium) through
Playwright, offline: requests that would leave 127.0.0.1 are blocked and listed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import booksite


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder for the PNG files (created if missing)")
    parser.add_argument("--html", type=Path, help="an already built site (default: build the book now)")
    parser.add_argument("--page", action="append", default=[],
                        help="only pages whose path contains this text (repeatable)")
    parser.add_argument("--only", choices=["desktop", "mobile"], help="only one of the two widths")
    return parser.parse_args(argv)


def screenshot_site(html: Path, outdir: Path, pages: list[str], widths: dict[str, dict]) -> list[str]:
    from playwright.sync_api import sync_playwright

    outdir.mkdir(parents=True, exist_ok=True)
    problems = []
    with booksite.serve(html) as base_url, sync_playwright() as playwright:
        browser = booksite.launch_chromium(playwright)
        try:
            for label, viewport in widths.items():
                context = browser.new_context(viewport=viewport, is_mobile=label == "mobile",
                                              has_touch=label == "mobile", service_workers="block")
                context.route(lambda url: not url.startswith(base_url), lambda route: route.abort())
                page = context.new_page()
                page.on("request", lambda r: problems.append(f"remote request {r.url}")
                        if not r.url.startswith((base_url, "data:", "blob:", "about:")) else None)
                page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
                for path in pages:
                    page.goto(base_url + path, wait_until="load")
                    if not booksite.settle(page):
                        problems.append(f"{path} ({label}): still loading or typesetting after 90 s")
                    target = outdir / f"{path.removesuffix('.html').replace('/', '__')}--{label}.png"
                    page.screenshot(path=str(target), full_page=True)
                    print(target)
                context.close()
        finally:
            browser.close()
    return problems


def main(argv=None) -> int:
    args = parse_args(argv)
    pages = [p for p in booksite.page_paths() if not args.page or any(s in p for s in args.page)]
    if not pages:
        print("no page matches --page", file=sys.stderr)
        return 2
    widths = {"desktop": booksite.DESKTOP, "mobile": booksite.MOBILE}
    if args.only:
        widths = {args.only: widths[args.only]}
    with tempfile.TemporaryDirectory(prefix="emlib-book-") as tmp:
        html = args.html.resolve() if args.html else booksite.build_book(Path(tmp))
        problems = screenshot_site(html, args.outdir, pages, widths)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
