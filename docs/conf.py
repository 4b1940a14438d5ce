"""Sphinx configuration of the skmediate documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``.
Set ``SKMEDIATE_DOCS_FAST=1`` to run the gallery's examples in their fast
mode (each example that has a ``--fast`` option gets it); CI does.
sphinx-gallery reruns an example only when its file changed: remove
``docs/auto_examples`` to rerun all of them (in the other mode, say).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# the package of this tree, whatever is installed, and the gallery helpers
sys.path[:0] = [str(ROOT), str(DOCS / "sphinxext")]

import skmediate  # noqa: E402

project = "skmediate"
author = "the skmediate developers"
copyright = "the skmediate developers"
version = release = skmediate.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
default_role = "literal"
# quotes and ellipses only: "--output-dir" stays two hyphens
smartquotes_action = "qe"
add_module_names = False

# -- API reference ------------------------------------------------------------

autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"  # the numpydoc sections give the types
numpydoc_show_class_members = False  # the class template lists them
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- MyST (the user guide) ----------------------------------------------------

myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- the gallery ----------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # run every example file (not only plot_*.py), so new ones are picked up
    "filename_pattern": r"\.py$",
    "ignore_pattern": r"__init__\.py",
    "reset_argv": "skmediate_gallery.example_argv",
    "image_scrapers": ("matplotlib", "skmediate_gallery.saved_figures"),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "show_memory": False,
    "write_computation_times": False,
    "min_reported_time": 10**9,
}

# -- HTML -----------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skmediate {version}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 5,
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_context = {"default_mode": "light"}
