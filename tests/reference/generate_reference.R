# Reference values for skmediate's IV mediation estimators, computed with R.
#
# Run from the repository root (after `python tests/reference/make_data.py`):
#
#     Rscript tests/reference/generate_reference.R
#
# For each dataset tests/reference/<name>.csv this writes
# tests/reference/<name>.json.  Needs the R packages AER, sandwich (and lmtest,
# a dependency of AER) and jsonlite.  JSON is written by hand with
# sprintf("%.17g") so every double is stored at full precision (jsonlite's
# toJSON caps at 15 significant digits); jsonlite is used to re-read it and
# check that it round-trips exactly.
#
# The CSV numbers are parsed with jsonlite's number parser (C strtod, correctly
# rounded) rather than read.csv's: R's own decimal parser is occasionally one
# ulp off, and this way R works on exactly the same doubles that numpy/pandas
# read from the CSV files.
#
# Every covariance matrix taken from AER/sandwich is also recomputed here from
# explicit matrix formulas and the script stops if the two disagree, so the
# definitions stated in README.md are checked on every run.

suppressPackageStartupMessages({
  library(AER)
  library(sandwich)
  library(lmtest)
})
stopifnot(requireNamespace("jsonlite", quietly = TRUE))

# ---------------------------------------------------------------- locations --
script_dir <- local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg) == 1L) {
    dirname(normalizePath(sub("^--file=", "", file_arg)))
  } else {
    file.path(getwd(), "tests", "reference")
  }
})

DATASETS <- c("trial_binary", "trial_clustered", "trial_weak")
TOL <- 1e-10  # tolerance for the internal consistency checks (all.equal)

# ------------------------------------------------------------------ helpers --
# The JSON writer and the exact CSV reader (reference_helpers.R).
source(file.path(script_dir, "reference_helpers.R"))

# ----------------------------------------------------------------- analysis --
analyse <- function(name) {
  df <- read_csv_exact(file.path(script_dir, paste0(name, ".csv")))
  covs <- grep("^x[0-9]+$", names(df), value = TRUE)
  ctrls <- intersect("z", names(df))
  has_cluster <- "cluster" %in% names(df)
  insts <- paste0("r", covs)
  for (j in seq_along(covs)) {
    df[[insts[j]]] <- df$r * (df[[covs[j]]] - mean(df[[covs[j]]]))
  }
  exog <- c(covs, ctrls, "r")
  n <- nrow(df)
  G <- if (has_cluster) length(unique(df$cluster)) else NA_integer_

  # ---------------------------------------------------------------- 2SLS --
  f_iv <- as.formula(paste("y ~", paste(c(exog, "m"), collapse = " + "), "|",
                           paste(c(exog, insts), collapse = " + ")))
  fit <- ivreg(f_iv, data = df)
  b <- coef(fit)
  k <- length(b)
  stopifnot(nobs(fit) == n, !anyNA(b))

  V <- list()
  V$unadjusted <- vcov(fit) * (n - k) / n
  V$classical <- vcov(fit)
  V$HC0 <- vcovHC(fit, type = "HC0")
  V$HC1 <- vcovHC(fit, type = "HC1")
  if (has_cluster) {
    V$cluster <- vcovCL(fit, cluster = ~cluster, type = "HC1")
    check_equal(V$cluster, vcovCL(fit, cluster = df$cluster, type = "HC1"),
                paste(name, "iv cluster formula vs vector"))
  }

  # Independent recomputation from matrix formulas.
  X <- model.matrix(fit, component = "regressors")
  Zm <- model.matrix(fit, component = "instruments")
  Xhat <- Zm %*% solve(crossprod(Zm), crossprod(Zm, X))   # P_Z X
  y <- df$y
  b_man <- solve(crossprod(Xhat), crossprod(Xhat, y))
  check_equal(b, drop(b_man), paste(name, "iv coef"))
  e <- drop(y - X %*% b_man)                               # structural residuals
  check_equal(residuals(fit), e, paste(name, "iv residuals"))
  B <- solve(crossprod(Xhat))                              # (X' P_Z X)^{-1}
  rss <- sum(e^2)
  meat0 <- crossprod(Xhat * e)
  check_equal(V$unadjusted, rss / n * B, paste(name, "iv unadjusted"))
  check_equal(V$classical, rss / (n - k) * B, paste(name, "iv classical"))
  check_equal(V$HC0, B %*% meat0 %*% B, paste(name, "iv HC0"))
  check_equal(V$HC1, n / (n - k) * B %*% meat0 %*% B, paste(name, "iv HC1"))
  if (has_cluster) {
    S <- rowsum(Xhat * e, df$cluster)                       # G x k score sums
    stopifnot(nrow(S) == G)
    V_cl_man <- G / (G - 1) * (n - 1) / (n - k) * B %*% crossprod(S) %*% B
    check_equal(V$cluster, V_cl_man, paste(name, "iv cluster"))
  }

  iv <- list(
    terms = I(names(b)),
    coef = I(unname(b)),
    se = lapply(V, se_of),
    cov = lapply(V, mat_rows)
  )

  # --------------------------------------------------------- first stage --
  f_full <- as.formula(paste("m ~", paste(c(exog, insts), collapse = " + ")))
  f_restr <- as.formula(paste("m ~", paste(exog, collapse = " + ")))
  fs_full <- lm(f_full, data = df)
  fs_restr <- lm(f_restr, data = df)
  a <- anova(fs_restr, fs_full)
  rss_r <- sum(residuals(fs_restr)^2)
  rss_f <- sum(residuals(fs_full)^2)
  q <- length(insts)
  k_fs <- length(coef(fs_full))
  F_man <- ((rss_r - rss_f) / q) / (rss_f / (n - k_fs))
  check_equal(a$F[2], F_man, paste(name, "first-stage F"))
  stopifnot(a$Df[2] == q, a$Res.Df[2] == n - k_fs)

  # Heteroskedasticity-/cluster-robust Wald F for the excluded instruments:
  # W = (R b)' (R V R')^{-1} (R b) / q with V the HC0/HC1/cluster covariance of
  # the full first-stage regression (no p-value from this is recorded).
  b_fs <- coef(fs_full)
  wald_f <- function(Vfs) {
    bb <- b_fs[insts]
    Vq <- Vfs[insts, insts, drop = FALSE]
    drop(t(bb) %*% solve(Vq, bb)) / q
  }
  V_fs <- list(HC0 = vcovHC(fs_full, type = "HC0"),
               HC1 = vcovHC(fs_full, type = "HC1"))
  if (has_cluster) V_fs$cluster <- vcovCL(fs_full, cluster = ~cluster, type = "HC1")
  robust_f <- lapply(V_fs, wald_f)
  wt <- waldtest(fs_full, fs_restr, vcov = V_fs$HC1, test = "F")
  check_equal(robust_f$HC1, wt$F[2], paste(name, "first-stage robust F"))

  first_stage <- list(
    terms = I(names(b_fs)),
    coef = I(unname(b_fs)),
    se_classical = se_of(vcov(fs_full)),
    instruments = I(insts),
    f_statistic = a$F[2],
    df_num = as.integer(a$Df[2]),
    df_denom = as.integer(a$Res.Df[2]),
    f_pvalue = a$`Pr(>F)`[2],
    partial_r2 = (rss_r - rss_f) / rss_r,
    rss_full = rss_f,
    rss_restricted = rss_r,
    robust_wald_f = robust_f
  )

  # ---------------------------------------------------------- naive OLS --
  f_ols <- as.formula(paste("y ~", paste(c(exog, "m"), collapse = " + ")))
  ols_fit <- lm(f_ols, data = df)
  bo <- coef(ols_fit)
  stopifnot(identical(names(bo), names(b)))
  Vo <- list(classical = vcov(ols_fit),
             HC0 = vcovHC(ols_fit, type = "HC0"),
             HC1 = vcovHC(ols_fit, type = "HC1"))
  if (has_cluster) Vo$cluster <- vcovCL(ols_fit, cluster = ~cluster, type = "HC1")
  Xo <- model.matrix(ols_fit)
  eo <- residuals(ols_fit)
  Bo <- solve(crossprod(Xo))
  check_equal(Vo$classical, sum(eo^2) / (n - k) * Bo, paste(name, "ols classical"))
  check_equal(Vo$HC0, Bo %*% crossprod(Xo * eo) %*% Bo, paste(name, "ols HC0"))
  check_equal(Vo$HC1, n / (n - k) * Bo %*% crossprod(Xo * eo) %*% Bo,
              paste(name, "ols HC1"))
  if (has_cluster) {
    So <- rowsum(Xo * eo, df$cluster)
    check_equal(Vo$cluster,
                G / (G - 1) * (n - 1) / (n - k) * Bo %*% crossprod(So) %*% Bo,
                paste(name, "ols cluster"))
  }
  ols <- list(
    terms = I(names(bo)),
    coef = I(unname(bo)),
    se = lapply(Vo, se_of)
  )

  list(
    dataset = name,
    n = as.integer(n),
    k = as.integer(k),
    covariates = I(covs),
    controls = I(ctrls),
    treatment = "r",
    mediator = "m",
    cluster = if (has_cluster) "cluster" else NULL,
    n_clusters = if (has_cluster) as.integer(G) else NULL,
    instruments = I(insts),
    r_version = R.version.string,
    package_versions = list(
      AER = as.character(packageVersion("AER")),
      sandwich = as.character(packageVersion("sandwich")),
      lmtest = as.character(packageVersion("lmtest")),
      jsonlite = as.character(packageVersion("jsonlite"))
    ),
    iv = iv,
    first_stage = first_stage,
    ols = ols
  )
}

# -------------------------------------------------------------------- main --
for (name in DATASETS) {
  res <- analyse(name)
  out <- file.path(script_dir, paste0(name, ".json"))
  writeLines(to_json(res), out, useBytes = TRUE)

  back <- jsonlite::fromJSON(out, simplifyVector = TRUE)
  stopifnot(
    identical(back$iv$coef, unclass(res$iv$coef)),
    identical(back$iv$se$HC1, res$iv$se$HC1),
    identical(back$ols$se$classical, res$ols$se$classical),
    identical(back$first_stage$f_statistic, res$first_stage$f_statistic),
    identical(back$first_stage$partial_r2, res$first_stage$partial_r2),
    identical(unname(back$iv$cov$classical),
              do.call(rbind, lapply(res$iv$cov$classical, unclass)))
  )

  ii <- match(c("r", "m"), res$iv$terms)
  cat(sprintf(
    "%-16s n=%d k=%d%s  first-stage F=%.4f (df %d, %d; p=%.3g; partial R2=%.4f)  IV r=%.6f m=%.6f\n",
    name, res$n, res$k,
    if (is.null(res$n_clusters)) "" else sprintf(" G=%d", res$n_clusters),
    res$first_stage$f_statistic, res$first_stage$df_num,
    res$first_stage$df_denom, res$first_stage$f_pvalue,
    res$first_stage$partial_r2, res$iv$coef[ii[1]], res$iv$coef[ii[2]]))
}
