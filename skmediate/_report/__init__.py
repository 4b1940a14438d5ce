"""The report layer: the report's data (:mod:`~skmediate._report.report`), what the
report and the summaries say (:mod:`~skmediate._report.render`), the one renderer of
everything a person reads (:mod:`~skmediate._report.document`: text, Markdown, HTML,
LaTeX) and the command line (:mod:`~skmediate._report.cli`)."""
