"""The numerics layer: pure functions and small objects on numpy (or dask) arrays.

- :mod:`~skmediate._numerics.design`: the model's layout (:class:`Design`);
- :mod:`~skmediate._numerics.rows`: the row-reduction engine every pass uses;
- :mod:`~skmediate._numerics.engine`: a fit in two passes (:func:`fit_model`);
- :mod:`~skmediate._numerics.model`: the data-free :class:`FittedModel`;
- :mod:`~skmediate._numerics.tsls`: 2SLS and k-class estimates off the factor;
- :mod:`~skmediate._numerics.scores`: the score columns of the stacked
  estimating equations, in the factor's coordinates;
- :mod:`~skmediate._numerics.covariance`: the table of covariance types;
- :mod:`~skmediate._numerics.effects`, :mod:`~skmediate._numerics.diagnostics`,
  :mod:`~skmediate._numerics.weakiv`, :mod:`~skmediate._numerics.sensitivity`:
  statistics as small-matrix algebra on a fitted model;
- :mod:`~skmediate._numerics.batched`: many fits at once, for the bootstrap.
"""
