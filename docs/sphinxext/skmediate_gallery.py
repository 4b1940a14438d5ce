"""How sphinx-gallery runs the examples in ``examples/``.

The examples are scripts: they take command-line options and save their
figures as PNG files (closing them) rather than showing them. sphinx-gallery
imports these two callables by name from ``docs/conf.py``.
"""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
FIGURES = DOCS / "_build" / "gallery_figures"


def fast() -> bool:
    """Whether ``SKMEDIATE_DOCS_FAST`` asks for the examples' fast mode."""
    return os.environ.get("SKMEDIATE_DOCS_FAST", "") not in ("", "0")


def example_argv(gallery_conf, script_vars) -> list[str]:
    """Command-line arguments of an example run by the gallery (``reset_argv``).

    An example with an ``--output-dir`` option writes its figures to an empty
    folder of its own, from which :func:`saved_figures` takes them; one with a
    ``--fast`` option runs in its fast mode when ``SKMEDIATE_DOCS_FAST`` is set.
    """
    source = Path(script_vars["src_file"])
    text = source.read_text()
    # The examples run as scripts, so they may use their own path and
    # docstring (for default paths and --help), which sphinx-gallery leaves
    # out of their namespace; this is the one place that can give them back.
    namespace = script_vars["example_globals"]
    namespace["__file__"] = str(source)
    namespace["__doc__"] = ast.get_docstring(ast.parse(text))
    argv = []
    if '"--output-dir"' in text:
        out = FIGURES / source.stem
        shutil.rmtree(out, ignore_errors=True)
        argv += ["--output-dir", str(out)]
    if fast() and '"--fast"' in text:
        argv.append("--fast")
    return argv


def saved_figures(block, block_vars, gallery_conf) -> str:
    """Image scraper: the PNG files a code block saved in its output folder.

    They are moved into the gallery in the order they were written, so a later
    code block of the same example does not show them again.
    """
    from sphinx_gallery.scrapers import figure_rst

    folder = FIGURES / Path(block_vars["src_file"]).stem
    pngs = sorted(folder.glob("*.png"), key=lambda p: p.stat().st_mtime_ns)
    images = []
    for png, image_path in zip(pngs, block_vars["image_path_iterator"], strict=False):
        shutil.move(png, image_path)
        images.append(image_path)
    return figure_rst(images, gallery_conf["src_dir"])
