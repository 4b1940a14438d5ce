"""skmediate: mediation analysis for randomized trials, in scikit-learn.

Instrumental-variable mediation analysis with baseline covariates interacted
with the random assignment as instruments, beside the naive (Baron-Kenny)
regression, as scikit-learn estimators.
"""

from skmediate._bootstrap import BootstrapResult, ConfidenceInterval, bootstrap
from skmediate._estimators import IVMediationRegressor, NaiveMediationRegressor
from skmediate._numerics.diagnostics import (
    FirstStageDiagnostics,
    stock_yogo_critical_value,
)
from skmediate._report.compare import Comparison, compare
from skmediate._report.document import Summary
from skmediate._results import MediationResult
from skmediate._sensitivity import SensitivityGrid
from skmediate.exceptions import (
    DegenerateBootstrapWarning,
    FailedResampleWarning,
    FewClustersWarning,
    RankDeficiencyError,
    TreatmentCodingWarning,
    UnusedGroupsWarning,
    WeakInstrumentWarning,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "BootstrapResult",
    "Comparison",
    "ConfidenceInterval",
    "DegenerateBootstrapWarning",
    "FailedResampleWarning",
    "FewClustersWarning",
    "FirstStageDiagnostics",
    "IVMediationRegressor",
    "MediationResult",
    "NaiveMediationRegressor",
    "RankDeficiencyError",
    "SensitivityGrid",
    "Summary",
    "TreatmentCodingWarning",
    "UnusedGroupsWarning",
    "WeakInstrumentWarning",
    "__version__",
    "bootstrap",
    "compare",
    "stock_yogo_critical_value",
]
