"""The command line's HTML report in a headless browser: it renders, with its figures.

Runs where Debian's ``chromium`` (or ``chromium-browser``) is on the PATH and
is skipped otherwise; CI does not install it. The report is loaded from a
file; a copy with a few lines of script added reports, after the page has
loaded, how many images decoded to a picture, and a screenshot of the report
itself must not be blank.
"""

import re
import shutil
import subprocess

import numpy as np
import pytest

from skmediate._report.cli import main

from .conftest import simulate_trial

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on the PATH (Debian: apt-get install chromium)",
)

# Counts written onto <body> once the page has loaded.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const body = document.body.dataset;
  body.images = images.length;
  body.decoded = images.filter((i) => i.complete && i.naturalWidth > 0).length;
  body.tables = document.querySelectorAll("table").length;
  body.cells = document.querySelectorAll("td").length;
});
</script>"""


def _chromium(*args, timeout=120) -> str:
    run = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("matplotlib")
    workdir = tmp_path_factory.mktemp("browser")
    X, y, _ = simulate_trial(n=300, seed=3)
    X.assign(y=y).to_csv(workdir / "trial.csv", index=False)
    path = workdir / "report.html"
    args = ["analyze", str(workdir / "trial.csv"), "--outcome", "y"]
    args += ["--treatment", "r", "--mediator", "m", "--covariates", "x1", "x2"]
    args += ["--sensitivity", "x1=0,0.5;x2=0,0.5", "--format", "html"]
    assert main([*args, "--output", str(path)]) == 0
    return path


def test_report_renders_its_tables_and_figures(report):
    text = report.read_text(encoding="utf-8")
    n_tables = text.count("<table>")
    n_cells = text.count("<td ")
    probe = report.with_name("probe.html")
    probe.write_text(text.replace("</body>", PROBE + "\n</body>"), encoding="utf-8")
    dom = _chromium("--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    body = re.search(r"<body([^>]*)>", dom).group(1)
    counts = dict(re.findall(r'data-(\w+)="(\d+)"', body))
    # estimates and sensitivity figures, both decoded to pictures
    assert counts["images"] == "2" and counts["decoded"] == "2"
    assert int(counts["tables"]) == n_tables >= 8
    assert int(counts["cells"]) == n_cells


def test_report_screenshot_is_not_blank(report):
    from matplotlib.image import imread

    shot = report.with_name("report.png")
    _chromium(
        "--hide-scrollbars",
        "--window-size=1000,3000",
        f"--screenshot={shot}",
        report.as_uri(),
    )
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (3000, 1000)
    # text, rules and the figures' markers: many rows differ from the background
    rows_with_ink = np.mean(pixels.std(axis=(1, 2)) > 0.01)
    assert rows_with_ink > 0.2
    # the figures' blue markers (#1f4e79) are on the page
    blue = np.all(np.abs(pixels - np.array([0x1F, 0x4E, 0x79]) / 255) < 0.08, axis=-1)
    assert blue.sum() > 50
