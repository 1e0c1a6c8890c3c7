"""Sphinx extension that makes the rendered book a complete offline website.

What it does, for every HTML page of the book:

- **Math without internet.** MathJax 2.7 ships inside the PyPI package ``jupyter-server-mathjax`` (a
  dependency in requirements.txt). After an HTML build its ``static`` folder is copied to
  ``_static/mathjax/`` and every page with math loads it from there. The copy has only the STIX-Web fonts,
  so the HTML-CSS output is told to use exactly those web fonts and never image fonts or TeX fonts that
  are not there. ``myst_update_mathjax`` is switched off because it would write a MathJax 3 configuration
  that stops MathJax 2 from typesetting; the equivalent MathJax 2 settings are given here instead.
- **No remote requests.** sphinx-thebe (always loaded by Jupyter Book, unused here: ``thebe: false``)
  puts a CDN address and an inline script on every page, twice, which also raises the console error
  "Identifier 'THEBE_JS_URL' has already been declared". Its assets and configuration block are removed.
- **Run it yourself.** Every page made from a notebook gets one line under its title that links the
  notebook for download and says how to run it locally.
- **A default colour mode** (light), so the theme logs no error on a first visit.
- **Small style fixes** in ``static/emlib_site.css`` (wide tables and equations scroll instead of
  breaking the layout on narrow screens), and ``static/emlib_math_fit.js``, which gives an inline
  formula too wide for its line a scrolling box of its own (or, if only slightly too wide, a slightly
  smaller font) and shows that a formula box scrolls.
- **Solution titles.** sphinx-exercise puts the space of "Solution to Exercise 3.1" inside the link;
  it is moved in front of the link so that the underline does not start with a blank.

Enabled from ``_config.yml``: ``sphinx: local_extensions: {emlib_site: _ext}``.
"""

from __future__ import annotations

import html
import importlib.util
import shutil
from pathlib import Path

from docutils import nodes

HERE = Path(__file__).resolve().parent
MATHJAX_DIR = "mathjax"  # folder under _static/
MATHJAX_CONFIG_FILE = "TeX-AMS-MML_HTMLorMML-full"

# Sphinx writes inline math as \( \) and display math as \[ \] in elements of class "math". MathJax looks
# for those delimiters only (never for dollar signs) and skips pre/code, so prices and regular expressions
# in prose and code output stay as they are. The class names keep the usual opt-in/opt-out markers working.
MATHJAX2_CONFIG = {
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processEscapes": False,
        "processRefs": False,
        "processEnvironments": True,
        "processClass": "tex2jax_process|mathjax_process|math|output_area",
        "ignoreClass": "tex2jax_ignore|mathjax_ignore",
    },
    "HTML-CSS": {
        # Only STIX-Web ships with jupyter-server-mathjax: no local, TeX or image fonts.
        "availableFonts": [],
        "preferredFont": None,
        "webFont": "STIX-Web",
        "imageFont": None,
        # No automatic line breaks: MathJax 2 breaks where it can, not where a reader would (between
        # "log" and its argument). An equation wider than the column scrolls in its own box
        # (emlib_site.css) unless the chapter splits it by hand (aligned).
        "linebreaks": {"automatic": False},
        # MathJax times web-font loading against a placeholder font whose source is url('about:blank'),
        # which Chromium rejects with a console error; a local() source that never exists fails silently.
        "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}},
    },
    # The other renderers in MathJax's right-click menu need fonts that are not shipped.
    "MathMenu": {"showRenderer": False},
    "messageStyle": "none",
}

RUN_LOCALLY_CLASS = "emlib-run-locally"


def mathjax_static_dir() -> Path:
    """Folder of MathJax 2.7 files inside the installed ``jupyter_server_mathjax`` package."""
    spec = importlib.util.find_spec("jupyter_server_mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the book needs the package jupyter-server-mathjax for offline math: "
            "pip install -r requirements.txt"
        )
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    if not (static / "MathJax.js").is_file():
        raise RuntimeError(f"jupyter-server-mathjax is installed but {static}/MathJax.js is missing")
    return static


def configure(app, config):
    mathjax_static_dir()  # fail early, before reading any page, if MathJax is missing
    config.mathjax_path = f"{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG_FILE}"
    config.mathjax2_config = MATHJAX2_CONFIG
    config.mathjax3_config = None
    config.myst_update_mathjax = False
    config.html_static_path = [*config.html_static_path, str(HERE / "static")]
    # Without a default the theme logs "Got invalid theme mode" on a reader's first visit. Light, because
    # the chapters' figures are drawn for a white page; readers can still switch with the theme button.
    # pydata-sphinx-theme 0.17 puts a second search field in a top bar that sphinx-book-theme does not
    # use (its sidebar has one): an empty bar with a stray search box on wide screens.
    config.html_theme_options = {"navbar_persistent": [], **config.html_theme_options}
    if not config.html_context.get("default_mode"):
        config.html_context = {**config.html_context, "default_mode": "light"}


def copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / MATHJAX_DIR
    shutil.copytree(mathjax_static_dir(), target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))


def _is_thebe_asset(asset) -> bool:
    filename = str(getattr(asset, "filename", asset) or "")
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    return "thebe" in filename or "THEBE_JS_URL" in body


def drop_thebe_assets(app, pagename, templatename, context, doctree):
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe_asset(asset)]


def _is_thebe_config(node) -> bool:
    text = node.astext().strip()
    return "text/x-thebe-config" in text or text.startswith("<script>kernelName = ")


def _notebook_source_name(app, docname: str) -> str | None:
    """Name of the page's copy under ``_sources/`` if the page was made from a notebook."""
    source = Path(app.env.doc2path(docname))
    if source.suffix != ".ipynb" or not app.config.html_copy_source:
        return None
    name = docname + source.suffix
    if source.suffix != app.config.html_sourcelink_suffix:
        name += app.config.html_sourcelink_suffix
    return name


def run_locally_line(app, docname: str, source_name: str) -> str:
    from sphinx.util.osutil import relative_uri

    href = relative_uri(app.builder.get_target_uri(docname), "_sources/" + source_name)
    filename = Path(docname).name + ".ipynb"
    return (
        f'<p class="{RUN_LOCALLY_CLASS}"><strong>Run it yourself:</strong> '
        f'<a class="reference download" href="{html.escape(href)}" download="{html.escape(filename)}">'
        f"download this notebook</a> (or open <code>{html.escape(docname)}.ipynb</code> from the "
        "repository), run <code>pip install -r requirements.txt</code>, then <code>jupyter lab</code>.</p>\n"
    )


def _move_leading_space_out_of_link(reference) -> None:
    """sphinx-exercise titles a solution "Solution to" + a link " Exercise 19.1": the space is inside the
    link, so the link's underline starts with a blank. Put the space before the link instead."""
    if not isinstance(reference.parent, nodes.title) or not reference.children:
        return
    first = reference.children[0]
    if not isinstance(first, nodes.Text) or not first.astext()[:1].isspace():
        return
    text = first.astext()
    reference.replace(first, nodes.Text(text.lstrip()))
    reference.parent.insert(reference.parent.index(reference), nodes.Text(text[: len(text) - len(text.lstrip())]))


def finish_doctree(app, doctree, docname):
    """Runs after sphinx-thebe's handler (higher priority number): drop its config, tidy solution titles,
    add the run line."""
    if app.builder.format != "html":
        return
    for node in list(doctree.findall(nodes.raw)):
        if _is_thebe_config(node):
            node.parent.remove(node)

    for reference in list(doctree.findall(nodes.reference)):
        _move_leading_space_out_of_link(reference)

    source_name = _notebook_source_name(app, docname)
    if source_name is None:
        return
    line = nodes.raw("", run_locally_line(app, docname, source_name), format="html")
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is not None and section.children and isinstance(section[0], nodes.title):
        section.insert(1, line)
    else:
        doctree.insert(0, line)


def setup(app):
    app.connect("config-inited", configure, priority=100)
    app.connect("doctree-resolved", finish_doctree, priority=900)
    app.connect("html-page-context", drop_thebe_assets, priority=900)
    app.connect("build-finished", copy_mathjax)
    app.add_css_file("emlib_site.css")
    app.add_js_file("emlib_math_fit.js", defer="defer")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
