"""The ``skmediate`` command line: ``skmediate analyze FILE ...`` and ``skmediate demo``.

Reads a data file, checks it, and hands the columns to
:func:`skmediate._report.report.build_report`; :mod:`skmediate._report.render` formats the
result. Every problem with the input ends the program with one line on
standard error and exit code 2.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
import sys
from functools import partial
from pathlib import Path

import pandas as pd

from skmediate._bootstrap import few_resamples_message, min_resamples
from skmediate._numerics.covariance import COV_TYPES, WEIGHT_TYPES
from skmediate._progress import INSTALL, has_tqdm
from skmediate._report.render import FORMATS, render
from skmediate._report.report import Analysis, build_report
from skmediate._validation import missing_in_columns
from skmediate.datasets import make_prospect_like

__all__ = ["main", "parse_tau"]

EXIT_USAGE = 2
# The grid of the paper's Table 2: each component of tau_R and tau_M at 0 and 1.
DEMO_TAU = {"past_use": [0.0, 1.0], "baseline_use": [0.0, 1.0]}
DEMO_RESAMPLES = 1999
# Separators told apart in a CSV file's first lines, and how to name them.
SEPARATORS = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
SNIFF_BYTES = 64 * 1024
# A --categorical column with fewer rows than this per level on average is
# reported (each level but one adds a covariate and an instrument); with
# fewer than two it looks continuous and is refused.
ROWS_PER_LEVEL = 10


class CLIError(Exception):
    """A problem with the command line or the data, reported in one line."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


def _separator(text: str) -> str:
    value = {"tab": "\t", "\\t": "\t"}.get(text.lower(), text)
    if len(value) != 1 or value in '"\n\r' or value.isalnum():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a one-character separator (e.g. ';', '|' or tab)"
        )
    return value


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1; got {value}")
    return value


ANALYZE_EPILOG = """\
examples:
  skmediate analyze trial.csv --outcome hamilton --treatment r --mediator m \\
      --covariates past_use baseline_use --sensitivity "past_use=0,1;baseline_use=0,1"
  skmediate analyze trial.csv --outcome y --treatment r --mediator m1 m2 \\
      --covariates x1 x2 x3

Sensitivity values are given as NAME=V1,V2,...;NAME=... over covariates (a
one-hot encoded column is named <column>_<level>); the grid is the cartesian
product of all values. --sensitivity uses the same values for tau_R (direct
effect) and tau_M (mediator effect), as in Table 2 of Small (2012);
--sensitivity-direct and --sensitivity-mediator give them separately (an
effect given no values keeps tau = 0).
"""


def build_parser() -> argparse.ArgumentParser:
    from skmediate import __version__

    parser = _Parser(
        prog="skmediate",
        description=(
            "Mediation analysis of randomized trials: baseline covariates "
            "interacted with the random assignment instrument the mediator "
            "(Small 2012)."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"skmediate {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="{analyze,demo}", parser_class=_Parser
    )

    analyze = commands.add_parser(
        "analyze",
        help="analyse a trial from a CSV or Parquet file",
        description=(
            "Fit the standard (naive) regression and the IV mediation "
            "regression to a data file and report both, with the first-stage "
            "diagnostics and, on request, a sensitivity analysis and bootstrap "
            "intervals."
        ),
        epilog=ANALYZE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    analyze.add_argument("file", metavar="FILE", help="a .csv or .parquet file")
    roles = analyze.add_argument_group("columns")
    roles.add_argument("--outcome", required=True, metavar="Y", help="outcome")
    roles.add_argument(
        "--treatment", required=True, metavar="R", help="randomized assignment"
    )
    roles.add_argument(
        "--mediator",
        required=True,
        nargs="+",
        metavar="M",
        help="mediator, or several (at most as many as the covariates)",
    )
    roles.add_argument(
        "--covariates",
        required=True,
        nargs="+",
        metavar="X",
        help="baseline covariates, interacted with R to form the instruments",
    )
    roles.add_argument(
        "--controls",
        nargs="+",
        default=[],
        metavar="Z",
        help="baseline variables in both stages, not interacted with R",
    )
    roles.add_argument(
        "--categorical",
        nargs="+",
        default=[],
        metavar="COL",
        help="covariates or controls to one-hot encode (first level dropped); "
        "a column with more levels than half its rows is refused",
    )
    roles.add_argument(
        "--clusters",
        metavar="COL",
        help="cluster labels (--cov-type cluster unless CR0 or CR2 is given)",
    )
    roles.add_argument(
        "--weights",
        metavar="COL",
        help="non-negative sample weights, of the type --weight-type",
    )
    reading = analyze.add_argument_group("reading a CSV file")
    reading.add_argument(
        "--sep",
        type=_separator,
        metavar="SEP",
        help="field separator, e.g. ';' or tab (default: detected from the "
        "first lines among , ; tab |)",
    )
    reading.add_argument(
        "--decimal",
        choices=[".", ","],
        default=".",
        metavar="MARK",
        help="decimal mark of the numbers: . (default) or ,",
    )
    options = analyze.add_argument_group("inference")
    options.add_argument(
        "--cov-type",
        choices=list(COV_TYPES),
        help="covariance of the estimates (default HC1, or cluster with --clusters)",
    )
    options.add_argument(
        "--weight-type",
        choices=list(WEIGHT_TYPES),
        help="what --weights means: frequency (default; a row of weight w "
        "counts as w observations), analytic (inverse-variance weights) or "
        "probability (sampling weights; robust --cov-type only); analytic and "
        "probability weights count each row once",
    )
    options.add_argument(
        "--use-t",
        action="store_true",
        help="t and F reference distributions (n - k, G - 1, or Bell-McCaffrey "
        "degrees of freedom for CR2) instead of the normal and chi-squared",
    )
    options.add_argument(
        "--confidence-level",
        type=_level,
        default=0.95,
        metavar="LEVEL",
        help="confidence level (default 0.95)",
    )
    options.add_argument(
        "--sensitivity",
        metavar="SPEC",
        help="the same values for tau_R and tau_M (of each mediator), e.g. "
        '"X1=0,1;X2=0,1"',
    )
    options.add_argument(
        "--sensitivity-direct", metavar="SPEC", help="values of tau_R only"
    )
    options.add_argument(
        "--max-grid-points",
        type=_positive_int,
        default=100_000,
        metavar="N",
        help="largest sensitivity grid allowed (default 100000)",
    )
    options.add_argument(
        "--sensitivity-mediator",
        metavar="SPEC",
        help="values of tau_M only (the same for each of several mediators)",
    )
    options.add_argument(
        "--bootstrap",
        type=_positive_int,
        metavar="N",
        help="percentile bootstrap intervals from N resamples (at least "
        "2 / (1 - LEVEL) + 1, 41 for 95%%; 999 or more recommended)",
    )
    options.add_argument(
        "--seed", type=int, metavar="S", help="random seed of the bootstrap"
    )
    options.add_argument(
        "--dropna",
        action="store_true",
        help="leave out the rows with a missing value in a column used "
        "(listwise; the report says how many, and which columns); without it "
        "missing values are an error",
    )
    _output_options(analyze)
    analyze.set_defaults(func=_analyze)

    demo = commands.add_parser(
        "demo",
        help="the complete analysis of a simulated PROSPECT-shaped trial",
        description=(
            "Run the complete analysis on skmediate.datasets.make_prospect_like(), "
            "simulated data shaped like the PROSPECT trial (297 subjects, a "
            "binary antidepressant-use mediator, two baseline covariates): "
            "Table 1 of Small (2012), the first stage, the mediation effects, "
            "the Anderson-Rubin confidence set, the Table 2 sensitivity grid "
            f"and percentile bootstrap intervals from {DEMO_RESAMPLES} resamples."
        ),
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=2012,
        metavar="S",
        help="random seed of the data and the bootstrap (2012)",
    )
    _output_options(demo)
    demo.set_defaults(func=_demo)
    return parser


def _output_options(parser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument(
        "--format", choices=FORMATS, default="text", help="report format (text)"
    )
    group.add_argument(
        "--output", metavar="PATH", help="write the report to PATH, not stdout"
    )
    group.add_argument(
        "--digits",
        type=_positive_int,
        default=3,
        metavar="D",
        help="decimals of estimates in text, markdown, html and latex (3)",
    )
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="progress bars of the bootstrap and the sensitivity grid on "
        "standard error (default: shown when standard error is a terminal and "
        f"tqdm is installed: {INSTALL})",
    )


# ---------------------------------------------------------------------------
# Entry point


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except CLIError as exc:
        print(f"skmediate: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (e.g. `skmediate demo | head`): exit quietly,
        # without a second error when Python flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def show_progress(choice: bool | None) -> bool:
    """Whether to draw progress bars: ``--progress`` (True), ``--no-progress``
    (False) or, by default (None), when standard error is a terminal and tqdm
    is installed."""
    if choice is None:
        return bool(sys.stderr and sys.stderr.isatty()) and has_tqdm()
    if choice and not has_tqdm():
        raise CLIError(f"--progress needs the optional dependency tqdm: {INSTALL}")
    return choice


def _analyze(args) -> int:
    progress = show_progress(args.progress)
    tau_direct, tau_mediator = _sensitivity_options(args)
    if args.bootstrap is not None and args.bootstrap < min_resamples(
        args.confidence_level
    ):
        raise CLIError(
            few_resamples_message(
                f"--bootstrap {args.bootstrap}", args.confidence_level
            )
        )
    frame = read_table(args.file, sep=args.sep, decimal=args.decimal)
    X, y, groups, weights, categorical, notes = prepare_data(frame, args)
    analysis = Analysis(
        outcome=args.outcome,
        treatment=args.treatment,
        mediators=tuple(args.mediator),
        covariates=tuple(args.covariates),
        controls=tuple(args.controls),
        categorical=categorical,
        cov_type=args.cov_type or ("cluster" if args.clusters else "HC1"),
        clusters=args.clusters,
        weights=args.weights,
        weight_type=args.weight_type or "frequency",
        use_t=args.use_t,
        confidence_level=args.confidence_level,
        tau_direct=tau_direct,
        tau_mediator=tau_mediator,
        n_resamples=args.bootstrap,
        random_state=args.seed,
        missing="drop" if args.dropna else "raise",
        source=Path(args.file).name,
    )
    return _report(
        analysis,
        X,
        y,
        groups,
        args,
        sample_weight=weights,
        n_rows_read=len(frame),
        notes=notes,
        progress=progress,
    )


def _demo(args) -> int:
    progress = show_progress(args.progress)
    X, y = make_prospect_like(random_state=args.seed)
    analysis = Analysis(
        outcome=str(y.name),
        treatment="r",
        mediators=("m",),
        covariates=("past_use", "baseline_use"),
        tau_direct=DEMO_TAU,
        tau_mediator=DEMO_TAU,
        n_resamples=DEMO_RESAMPLES,
        random_state=args.seed,
        source=(
            f"skmediate.datasets.make_prospect_like(random_state={args.seed}), "
            "simulated"
        ),
    )
    return _report(analysis, X, y, None, args, n_rows_read=len(y), progress=progress)


def _report(analysis, X, y, groups, args, **options) -> int:
    try:
        report = build_report(analysis, X, y, groups, **options)
    except ValueError as exc:
        raise CLIError(" ".join(str(exc).split())) from None
    text = render(report, args.format, args.digits)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CLIError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


# ---------------------------------------------------------------------------
# Input


def read_table(path: str, sep: str | None = None, decimal: str = ".") -> pd.DataFrame:
    """A CSV file, or a Parquet file (``.parquet``, ``.pq``) with pyarrow.

    The separator of a CSV file is ``sep``, or detected from its first lines
    (see :func:`sniff_separator`).
    """
    file = Path(path)
    if not file.exists():
        raise CLIError(f"file not found: {path}")
    if file.is_dir():
        raise CLIError(f"{path} is a directory, not a data file")
    if file.suffix.lower() in (".parquet", ".pq"):
        if sep is not None or decimal != ".":
            raise CLIError(
                "--sep and --decimal apply to CSV files; a Parquet file stores "
                "its columns and numbers as such"
            )
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise CLIError(
                f"reading the Parquet file {path} needs pyarrow: pip install "
                "pyarrow (or skmediate[parquet]), or save the data as CSV"
            ) from None
        reader, kind = partial(pd.read_parquet, engine="pyarrow"), "Parquet"
    else:
        if sep is None:
            sep = sniff_separator(file)
        if sep == decimal:
            raise CLIError(
                f"the separator and the decimal mark are both {decimal!r}; give "
                "--sep (for example --sep ';' with --decimal ,)"
            )
        reader, kind = partial(pd.read_csv, sep=sep, decimal=decimal), "CSV"
    try:
        frame = reader(file)
    except PermissionError:
        raise CLIError(f"cannot read {path}: permission denied") from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise CLIError(f"cannot read {path} as {kind}: {reason}") from None
    if kind == "CSV":
        # pandas renames a repeated header "x" to "x.1"; refuse it instead
        header = reader(file, header=None, nrows=1, dtype=str).iloc[0]
        repeated = sorted({str(c) for c in header[header.duplicated()]})
        if repeated:
            raise CLIError(
                f"{path} has duplicate column names {repeated}; rename them so "
                "that each column has its own name"
            )
    frame.columns = [str(c) for c in frame.columns]
    if frame.empty:
        raise CLIError(f"{path} has no data rows")
    return frame


def sniff_separator(file: Path) -> str:
    """The field separator of a CSV file, from its first lines (``,`` if unclear).

    :class:`csv.Sniffer` picks, among ``,``, ``;``, tab and ``|``, the
    character that splits the first lines into equally many fields.
    """
    try:
        with open(file, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return ","  # the reader reports the problem
    text = head.decode("utf-8", errors="replace")
    if len(head) == SNIFF_BYTES:  # drop the last, probably partial, line
        text = text[: text.rfind("\n") + 1] or text
    try:
        return csv.Sniffer().sniff(text, delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        return ","


def _joined_header(available) -> str:
    """A hint when the header was read as one field holding a separator."""
    if len(available) != 1:
        return ""
    header = available[0]
    found = [sep for sep in SEPARATORS if sep in header]
    if not found:
        return ""
    sep = found[0]
    option = "--sep tab" if sep == "\t" else f"--sep '{sep}'"
    return (
        f". The header was read as a single column: the file's separator is "
        f"probably {SEPARATORS[sep]}, not the one used; give {option}"
    )


def _names(values) -> str:
    return ", ".join(repr(v) for v in values)


def prepare_data(frame: pd.DataFrame, args):
    """Check the columns and return ``(X, y, groups, weights, categorical, notes)``.

    ``X`` holds the treatment, mediator, covariate and control columns (a new
    frame; the categorical ones as strings), ``y`` the outcome, ``groups``
    the cluster labels and ``weights`` the sample weights (Series named after
    their columns, or None). Missing
    values are an error without ``--dropna``; with it they are kept, and the
    estimators (``missing="drop"``) leave their rows out. ``notes`` are
    sentences about questionable input for the report.
    """
    roles = {
        "--outcome": [args.outcome],
        "--treatment": [args.treatment],
        "--mediator": list(args.mediator),
        "--covariates": list(args.covariates),
        "--controls": list(args.controls),
        "--categorical": list(args.categorical),
        "--clusters": [args.clusters] if args.clusters else [],
        "--weights": [args.weights] if args.weights else [],
    }
    available = list(frame.columns)
    for option, names in roles.items():
        unknown = [n for n in names if n not in available]
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            raise CLIError(
                f"unknown column{plural} {_names(unknown)} ({option}); available "
                f"columns: {', '.join(available)}{_joined_header(available)}"
            )
    owner: dict[str, str] = {}
    for option in (
        "--outcome",
        "--treatment",
        "--mediator",
        "--covariates",
        "--controls",
    ):
        for name in roles[option]:
            if name in owner:
                if owner[name] == option:
                    raise CLIError(f"column {name!r} is given twice in {option}")
                raise CLIError(
                    f"column {name!r} is given in {owner[name]} and in {option}; "
                    "each column has one role"
                )
            owner[name] = option
    for name in args.categorical:
        if owner.get(name) not in ("--covariates", "--controls"):
            raise CLIError(
                f"--categorical column {name!r} is not among the covariates or "
                "controls; only those can be one-hot encoded"
            )
    clustered = [name for name, kind in COV_TYPES.items() if kind.clustered]
    if args.clusters and args.cov_type not in (None, *clustered):
        raise CLIError(
            f"--clusters needs a cluster-robust --cov-type ({', '.join(clustered)}); "
            f"got --cov-type {args.cov_type}"
        )
    if args.cov_type in clustered and not args.clusters:
        raise CLIError(
            f"--cov-type {args.cov_type} needs --clusters COL, the cluster labels"
        )

    if args.weight_type and not args.weights:
        raise CLIError(
            f"--weight-type {args.weight_type} needs --weights COL, the sample weights"
        )
    if args.weights and args.weights in owner:
        raise CLIError(
            f"column {args.weights!r} is given in {owner[args.weights]} and in "
            "--weights; each column has one role"
        )
    if args.weights and not pd.api.types.is_numeric_dtype(frame[args.weights]):
        raise CLIError(f"--weights column {args.weights!r} is not numeric")
    used = list(owner)
    for extra in (args.clusters, args.weights):
        if extra and extra not in used:
            used.append(extra)
    if not args.dropna:
        # the estimators' rule for what is missing, so both count the same rows
        absent = missing_in_columns(frame, [frame.columns.get_loc(c) for c in used])
        if absent.any():
            incomplete = int(absent.any(axis=1).sum())
            counts = ", ".join(
                f"{col} ({n})"
                for col, n in zip(used, absent.sum(axis=0), strict=True)
                if n
            )
            raise CLIError(
                f"missing values in column(s) {counts}; --dropna drops the "
                f"{incomplete} incomplete rows listwise and reports how many"
            )

    categorical = tuple(dict.fromkeys(args.categorical))
    for name in owner:
        column = frame[name]
        if name not in categorical and not pd.api.types.is_numeric_dtype(column):
            bad = column[column.notna() & pd.to_numeric(column, errors="coerce").isna()]
            example = f" (for example {bad.iloc[0]!r})" if len(bad) else ""
            hint = (
                "list it in --categorical to one-hot encode it"
                if owner[name] in ("--covariates", "--controls")
                else f"the {owner[name][2:]} must be numeric"
            )
            if len(bad) and re.fullmatch(r"[+-]?\d*,\d+", str(bad.iloc[0]).strip()):
                hint = (
                    "its numbers seem to have a decimal comma: give --decimal , "
                    f"(or {hint})"
                )
            raise CLIError(f"column {name!r} is not numeric{example}; {hint}")
    # missing values stay: the estimators leave those rows out (--dropna)
    X = frame[[n for n in owner if n != args.outcome]].copy()
    notes = []
    for name in X.columns:
        if name in categorical:
            X[name] = X[name].astype(str).where(X[name].notna())
            notes += _check_levels(X[name], owner[name])
        else:
            X[name] = X[name].astype(float)
    y = frame[args.outcome].astype(float).rename(args.outcome)
    groups = frame[args.clusters] if args.clusters else None
    weights = frame[args.weights].astype(float) if args.weights else None
    return X, y, groups, weights, categorical, tuple(notes)


def _check_levels(column: pd.Series, option: str) -> list[str]:
    """A --categorical column needs at least two levels, and rows for each level.

    One-hot encoding a column of ``L`` levels adds ``L - 1`` terms (and, for a
    covariate, as many instruments): a column with more than half as many
    levels as rows is refused (it looks continuous, and the model would have
    about as many parameters as rows); one with fewer than
    :data:`ROWS_PER_LEVEL` rows per level on average gets a note. Returns the
    notes.
    """
    name = column.name
    levels, rows = int(column.nunique()), int(column.notna().sum())
    if levels < 2:
        raise CLIError(
            f"--categorical column {name!r} takes a single value; one-hot "
            "encoding it leaves no column"
        )
    terms = "a covariate and an instrument" if option == "--covariates" else "a control"
    if 2 * levels > rows:
        raise CLIError(
            f"--categorical column {name!r} has {levels} levels in {rows} rows: "
            f"one-hot encoding makes {levels - 1} columns, each {terms}, so the "
            "model would have about as many parameters as there are rows. It "
            "looks like a continuous or an identifier column: leave it out of "
            "--categorical to use it as a number, or group its levels"
        )
    if rows < ROWS_PER_LEVEL * levels:
        return [
            f"The --categorical column {name!r} has {levels} levels in {rows} rows "
            f"({rows / levels:.1f} rows per level on average): each level but "
            f"one adds {terms}. With many small levels the estimates are "
            "imprecise and, for covariates, the many instruments bias two-stage "
            "least squares toward the standard regression; consider grouping "
            "rare levels."
        ]
    return []


def parse_tau(text: str, option: str) -> dict[str, list[float]]:
    """Sensitivity values from the command line, as a dict for SensitivityGrid.

    Examples
    --------
    >>> parse_tau("past_use=0,1; baseline_use=0,0.5", "--sensitivity")
    {'past_use': [0.0, 1.0], 'baseline_use': [0.0, 0.5]}
    """
    expected = 'expected NAME=V1,V2,...;NAME=..., e.g. "past_use=0,1;baseline_use=0,1"'
    spec: dict[str, list[float]] = {}
    for entry in (e.strip() for e in text.split(";")):
        if not entry:
            continue
        name, sep, values = (part.strip() for part in entry.partition("="))
        if not sep or not name:
            raise CLIError(f"{option}: {entry!r} is not NAME=VALUES; {expected}")
        if name in spec:
            raise CLIError(f"{option}: covariate {name!r} is given twice")
        numbers = []
        for value in (v.strip() for v in values.split(",")):
            try:
                number = float(value)
            except ValueError:
                what = "an empty value" if not value else f"{value!r}, not a number"
                raise CLIError(f"{option}: {entry!r} has {what}; {expected}") from None
            if not math.isfinite(number):
                raise CLIError(f"{option}: {entry!r} has a non-finite value")
            numbers.append(number)
        spec[name] = numbers
    if not spec:
        raise CLIError(f"{option} is empty; {expected}")
    return spec


def _sensitivity_options(args):
    """``(tau_direct, tau_mediator)`` dicts from the sensitivity options."""
    if args.sensitivity is not None:
        if args.sensitivity_direct is not None or args.sensitivity_mediator is not None:
            raise CLIError(
                "give --sensitivity (the same values for both effects) or "
                "--sensitivity-direct/--sensitivity-mediator, not both"
            )
        tau = parse_tau(args.sensitivity, "--sensitivity")
        return _check_grid_size(tau, tau, args.max_grid_points, len(args.mediator))
    direct = (
        None
        if args.sensitivity_direct is None
        else parse_tau(args.sensitivity_direct, "--sensitivity-direct")
    )
    mediator = (
        None
        if args.sensitivity_mediator is None
        else parse_tau(args.sensitivity_mediator, "--sensitivity-mediator")
    )
    return _check_grid_size(direct, mediator, args.max_grid_points, len(args.mediator))


def _check_grid_size(direct, mediator, limit: int, n_mediators: int = 1):
    """The grid is the cartesian product of every component's values (each
    mediator's ``τ_M`` takes the mediator values): bound its size."""
    sizes = [len(v) for v in (direct or {}).values()]
    sizes += [len(v) for v in (mediator or {}).values()] * n_mediators
    points = math.prod(sizes) if sizes else 0
    if points > limit:
        raise CLIError(
            f"the sensitivity grid has {points:,} points (the product of "
            f"{' x '.join(str(k) for k in sizes)} values); at most {limit:,} "
            "are allowed: give fewer values per covariate, or raise "
            "--max-grid-points"
        )
    return direct, mediator
