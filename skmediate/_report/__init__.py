"""The report layer: the report's data (:mod:`~skmediate._report.report`), the one
renderer of everything a person reads (:mod:`~skmediate._report.render`) and the
command line (:mod:`~skmediate._report.cli`)."""
