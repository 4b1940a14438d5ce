"""Warnings and errors raised by skmediate."""

__all__ = [
    "DegenerateBootstrapWarning",
    "FailedResampleWarning",
    "FewClustersWarning",
    "RankDeficiencyError",
    "TreatmentCodingWarning",
    "UnusedGroupsWarning",
    "WeakInstrumentWarning",
]


class WeakInstrumentWarning(UserWarning):
    """The excluded instruments predict the mediator only weakly.

    Raised when the test that decides ``first_stage_.is_weak`` finds the
    instruments weak; its text names that test, its statistic and critical
    value. With a homoskedastic ``cov_type`` (``"unadjusted"``,
    ``"classical"``) and at most 30 instruments, the first-stage partial F
    statistic falls below the Stock–Yogo critical value for a two-stage least
    squares Wald test of nominal size 5% with maximal actual size 15%. With a
    heteroskedasticity- or cluster-robust ``cov_type`` (for which the
    Stock–Yogo values are not valid), or more instruments, the Montiel
    Olea–Pflueger effective F with that covariance falls below its critical
    value for a worst-case 2SLS bias of 10% (5% test). With weak instruments
    the 2SLS estimates are biased toward the naive (least squares) estimates
    and Wald confidence intervals can under-cover badly.
    """


class RankDeficiencyError(ValueError):
    """A design or instrument matrix does not have full column rank.

    Parameters
    ----------
    message : str
        What is wrong, in words.
    block : {"instruments", "regressors"}
        ``"instruments"`` when a column of the instrument matrix
        ``[exogenous regressors, excluded instruments]`` is (numerically) a
        linear combination of the columns before it; ``"regressors"`` when an
        endogenous regressor is not identified by the instruments.
    index : int
        Position of the offending column within its block.
    """

    def __init__(self, message, *, block, index):
        super().__init__(message)
        self.block = block
        self.index = index


class DegenerateBootstrapWarning(RuntimeWarning):
    """A bootstrap distribution cannot support the requested interval.

    Raised by :func:`~skmediate.bootstrap` when too few resamples are asked
    for the confidence level (fewer than ``2 / (1 - confidence_level) + 1``,
    41 for 95%: the interval's ends would lie among the most extreme
    resamples), when a statistic is constant across the resamples, when the
    data admit fewer distinct resamples than were asked for, or when an
    interval cannot be computed (a BCa interval whose
    bias correction or acceleration is not finite, a studentized interval
    with resamples of zero standard error). The affected interval endpoints
    are NaN, never silent infinities.
    """


class FailedResampleWarning(RuntimeWarning):
    """Some bootstrap resamples could not be fitted.

    Raised by :func:`~skmediate.bootstrap` when fitting the estimator on a
    resample raised an error or gave a non-finite statistic. Such resamples are
    recorded as NaN in ``bootstrap_distribution``, counted in ``n_failed`` and
    left out of the interval.
    """


class FewClustersWarning(UserWarning):
    """Too few clusters for cluster-robust inference with normal critical values.

    Raised by a fit with a cluster-robust ``cov_type`` on fewer than 30
    clusters (unless it already uses ``cov_type="CR2"`` with ``use_t=True``).
    With few clusters the CR1 covariance is biased downward and normal
    critical values over-reject. ``use_t=True`` (``t(G - 1)``), the
    bias-reduced ``cov_type="CR2"`` with its Bell–McCaffrey degrees of freedom,
    or the wild cluster bootstrap (``wild_bootstrap_test``) hold their level
    far better. With ``G - 1`` below the number of coefficients the CR0/CR1
    covariance is singular: a joint test of more than ``G - 1`` restrictions
    is not defined and is reported as NaN.
    """


class UnusedGroupsWarning(UserWarning):
    """``groups`` was passed to a fit whose covariance does not use it.

    Cluster labels enter only the cluster-robust covariances (``"cluster"``,
    ``"CR0"``, ``"CR2"``); with any other ``cov_type`` they are ignored, and
    the standard errors assume independent rows.
    """


class TreatmentCodingWarning(UserWarning):
    """The treatment is not coded 0/1.

    Every effect is per unit of the treatment: with the arms coded ``-1/+1``
    the effects are half the contrast of treatment against control, and with
    more than two values the model is linear in the treatment (a dose).
    """
