"""Progress bars of the long workflows, with tqdm (the ``progress`` extra).

:func:`skmediate.bootstrap`, :class:`skmediate.SensitivityGrid`,
:func:`skmediate.simulation.simulate` and the command line show a bar when
asked (``progress=True``, ``--progress``). tqdm is optional: asking for a bar
without it is one :class:`ImportError` that names the extra to install
(:func:`check_progress`). Bars are drawn by ``tqdm.auto`` (a widget in a
notebook, text on standard error elsewhere) and count what takes the time:
refits, resamples, grid points or replications.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["INSTALL", "ProgressBar", "check_progress", "has_tqdm"]

INSTALL = "pip install 'skmediate[progress]'"


def has_tqdm() -> bool:
    """Whether tqdm can be imported."""
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def check_progress(option: str = "progress=True") -> None:
    """Raise an ImportError naming the extra when ``option`` asks for tqdm and it is absent."""
    if not has_tqdm():
        raise ImportError(
            f"{option} needs the optional dependency tqdm; install it with {INSTALL}"
        )


class ProgressBar:
    """A bar of ``total`` items named ``desc`` and counted in ``unit``, or nothing.

    Disabled (``enabled=False``), it draws nothing and needs no tqdm.
    Use it as a context manager (the bar closes on exit) and call
    :meth:`update` with the items done, or wrap an iterable with
    :meth:`track`.
    """

    def __init__(self, total: int, desc: str, unit: str, enabled: bool):
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit)

    def update(self, n: int = 1) -> None:
        """``n`` more items done."""
        if self._bar is not None:
            self._bar.update(n)

    def track(self, iterable: Iterable) -> Iterator:
        """The items of ``iterable``; each counts as done when the next is asked for."""
        for item in iterable:
            yield item
            self.update()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
