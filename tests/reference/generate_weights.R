# Reference values for analytic and probability weights (skmediate's
# weight_type="analytic" / "probability"): estimatr iv_robust / lm_robust with
# `weights =`, checked against AER ivreg(weights =) with sandwich, clubSandwich
# and explicit matrix formulas.
#
# Run from the repository root (after `python tests/reference/make_data.py`):
#
#     Rscript tests/reference/generate_weights.R
#
# Writes tests/reference/weights.json.  Needs the R packages estimatr,
# clubSandwich, AER, sandwich and jsonlite.  The CSV is read and the JSON
# written with reference_helpers.R (exact parsing, "%.17g").
#
# Data: trial_sites.csv (240 rows, 8 sites), covariates x1 x2, control z,
# clusters site.  Two weight vectors (see README.md, section "Analytic and
# probability weights"):
#   unit_sum  w / sum(w): the CSV's integer weights scaled to sum to 1
#   varying   0.5 + r + 0.25 * site (exact in binary floating point)
# The excluded instruments are rx_j = r * (x_j - weighted.mean(x_j, weights)).
#
# The convention (estimatr, sandwich on a weighted lm/ivreg, Stata's
# [aw=] and [pw=]): every covariance is the unweighted formula applied to the
# rows scaled by sqrt(w), with n the number of rows:
#   classical  sum(w e^2) / (n - k) * (X'WX)^-1
#   HC0..HC3   B (sum w_i^2 e_i^2 x_i x_i' / (1 - h_i)^a) B, h_i = w_i x_i' B x_i
#   CR0, stata B (sum_g s_g s_g') B, s_g = sum_{i in g} w_i e_i x_i
#              (stata: times G/(G-1) (n-1)/(n-k))
#   CR2        s_g = X_g' W_g^(1/2) A_g W_g^(1/2) e_g,
#              A_g = (I - W_g^(1/2) X_g B X_g' W_g^(1/2))^(-1/2)
# with X the projected regressors Dhat for IV.  The script recomputes every
# covariance from these formulas and stops if anything disagrees beyond 1e-10
# relative.
#
# CR2 is the one exception among estimatr's types: with `weights =` estimatr
# (and clubSandwich's default for a weighted lm/ivreg, inverse_var = FALSE)
# take the working model of homoskedastic errors *before* weighting,
# A_g = ([(I - H)(I - H)']_gg)^(-1/2) with the non-symmetric H = X B X'W.
# skmediate takes the working model the weights describe (errors of variance
# proportional to 1/w, homoskedastic after the sqrt(w) scaling), so that CR2
# with singleton clusters is HC2 and CR2 with frequency and analytic weights
# adjust alike.  Its reference is clubSandwich's CR2 (and Satterthwaite
# degrees of freedom) on the unweighted regression of the sqrt(w)-scaled rows;
# estimatr's weighted CR2 is stored under "comparison" with the relative
# differences.

suppressPackageStartupMessages({
  library(estimatr)
  library(clubSandwich)
  library(AER)
  library(sandwich)
})
stopifnot(requireNamespace("jsonlite", quietly = TRUE))

script_dir <- local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg) == 1L) {
    dirname(normalizePath(sub("^--file=", "", file_arg)))
  } else {
    file.path(getwd(), "tests", "reference")
  }
})
source(file.path(script_dir, "reference_helpers.R"))

ALPHA <- 0.05
TOL <- 1e-10
TYPES <- c("classical", "HC0", "HC1", "HC2", "HC3", "CR0", "stata", "CR2")
CR_TYPES <- c("CR0", "stata", "CR2")
AR_VALUES <- c(-1, 0, 0.5, 2)

# ------------------------------------------------------- matrix formulas ----
inv_sqrt_sym <- function(S) {
  ev <- eigen(S, symmetric = TRUE)
  d <- ifelse(ev$values > 1e-12, 1 / sqrt(ev$values), 0)
  ev$vectors %*% (d * t(ev$vectors))
}

# Every covariance of TYPES for the weighted design Xd (n x k), residuals e,
# weights w, clusters cl: the unweighted formulas on sqrt(w)-scaled rows.
weighted_vcov <- function(Xd, e, w, cl) {
  n <- nrow(Xd)
  k <- ncol(Xd)
  Xs <- Xd * sqrt(w)
  es <- e * sqrt(w)
  B <- solve(crossprod(Xs))
  h <- rowSums((Xs %*% B) * Xs)
  sand <- function(omega) B %*% crossprod(Xs * sqrt(omega)) %*% B
  V <- list(
    classical = sum(es^2) / (n - k) * B,
    HC0 = sand(es^2),
    HC1 = n / (n - k) * sand(es^2),
    HC2 = sand(es^2 / (1 - h)),
    HC3 = sand(es^2 / (1 - h)^2)
  )
  G <- length(unique(cl))
  idx <- split(seq_len(n), cl)
  S0 <- rowsum(Xs * es, cl)
  V0 <- B %*% crossprod(S0) %*% B
  S2 <- t(vapply(idx, function(ii) {
    Xg <- Xs[ii, , drop = FALSE]
    A <- inv_sqrt_sym(diag(length(ii)) - Xg %*% B %*% t(Xg))
    drop(crossprod(Xg, A %*% es[ii]))
  }, numeric(k)))
  V$CR0 <- V0
  V$stata <- G / (G - 1) * (n - 1) / (n - k) * V0
  V$CR2 <- B %*% crossprod(S2) %*% B
  V
}

wald <- function(b, V) drop(crossprod(b, solve(V, b)))

# ---------------------------------------------------------------- analysis --
analyse <- function(df, wt, label) {
  covs <- c("x1", "x2")
  insts <- paste0("r", covs)
  for (j in seq_along(covs)) {
    df[[insts[j]]] <- df$r * (df[[covs[j]]] - weighted.mean(df[[covs[j]]], wt))
  }
  df$wt <- wt
  df$cl <- df$site
  exog <- c(covs, "z", "r")
  f_ols <- as.formula(paste("y ~", paste(c(exog, "m"), collapse = " + ")))
  f_iv <- as.formula(paste("y ~", paste(c(exog, "m"), collapse = " + "), "|",
                           paste(c(exog, insts), collapse = " + ")))
  f_fs <- as.formula(paste("m ~", paste(c(exog, insts), collapse = " + ")))
  n <- nrow(df)
  G <- length(unique(df$cl))

  y <- df$y
  D <- model.matrix(f_ols, df)
  Q <- model.matrix(f_fs, df)
  terms <- colnames(D)
  fs_terms <- colnames(Q)
  sw <- sqrt(wt)
  Dhat <- Q %*% solve(crossprod(Q * sw), crossprod(Q * wt, D))
  b_iv <- drop(solve(crossprod(Dhat * sw), crossprod(Dhat * wt, y)))
  b_ols <- drop(solve(crossprod(D * sw), crossprod(D * wt, y)))
  b_fs <- drop(solve(crossprod(Q * sw), crossprod(Q * wt, df$m)))
  ref <- list(
    iv = weighted_vcov(Dhat, drop(y - D %*% b_iv), wt, df$cl),
    ols = weighted_vcov(D, drop(y - D %*% b_ols), wt, df$cl),
    first_stage = weighted_vcov(Q, drop(df$m - Q %*% b_fs), wt, df$cl)
  )

  fit_est <- function(fun, f, tp, data = df) {
    if (tp %in% CR_TYPES) {
      fun(f, data = data, weights = wt, clusters = cl, se_type = tp,
          alpha = ALPHA)
    } else {
      fun(f, data = data, weights = wt, se_type = tp, alpha = ALPHA)
    }
  }
  # The regressions of the sqrt(w)-scaled rows, unweighted (no intercept: the
  # scaled intercept sqrt(w) is a column), and clubSandwich's CR2 on them.
  ys <- y * sw
  ms <- df$m * sw
  Ds <- D * sw
  Qs <- Q * sw
  scaled_fits <- list(
    iv = ivreg(ys ~ 0 + Ds | 0 + Qs),
    ols = lm(ys ~ 0 + Ds),
    first_stage = lm(ms ~ 0 + Qs)
  )
  club_cr2 <- list()
  for (nm in names(scaled_fits)) {
    obj <- scaled_fits[[nm]]
    V_cs <- vcovCR(obj, cluster = df$cl, type = "CR2")
    V_c <- unname(as.matrix(V_cs))
    check_equal(V_c, ref[[nm]]$CR2, paste(label, nm, "clubSandwich CR2 scaled"))
    ct <- coef_test(obj, vcov = V_cs, test = "Satterthwaite")
    club_cr2[[nm]] <- list(V = V_c, df = unname(ct$df_Satt))
  }

  run <- function(model, fun, f, tm, coef_ref) {
    out <- list()
    for (tp in TYPES) {
      if (tp == "CR2") {
        out$CR2 <- list(
          coef = I(unname(coef_ref)),
          std_error = I(se_of(club_cr2[[model]]$V)),
          vcov = mat_rows(club_cr2[[model]]$V),
          df = I(club_cr2[[model]]$df)
        )
        next
      }
      fit <- fit_est(fun, f, tp)
      what <- paste(label, model, tp)
      stopifnot(identical(names(fit$coefficients), tm), fit$nobs == n)
      check_equal(fit$coefficients, coef_ref, paste(what, "coef"))
      check_equal(fit$vcov, ref[[model]][[tp]], paste(what, "vcov"))
      # the weights' scale changes nothing
      scaled <- df
      scaled$wt <- 7 * scaled$wt
      check_equal(fit_est(fun, f, tp, scaled)$vcov, fit$vcov,
                  paste(what, "vcov with the weights times 7"))
      out[[tp]] <- list(
        coef = I(unname(fit$coefficients)),
        std_error = I(unname(fit$std.error)),
        vcov = mat_rows(fit$vcov),
        df = I(unname(fit$df))
      )
    }
    out
  }
  iv <- run("iv", iv_robust, f_iv, terms, b_iv)
  ols <- run("ols", lm_robust, f_ols, terms, b_ols)
  fs <- run("first_stage", lm_robust, f_fs, fs_terms, b_fs)

  # --------------------------------------- AER ivreg / lm with sandwich --
  ivfit <- ivreg(f_iv, data = df, weights = wt)
  olsfit <- lm(f_ols, data = df, weights = wt)
  check_equal(coef(ivfit), b_iv, paste(label, "ivreg coef"))
  check_equal(coef(olsfit), b_ols, paste(label, "lm coef"))
  for (pair in list(list(ivfit, "iv"), list(olsfit, "ols"))) {
    obj <- pair[[1]]
    nm <- pair[[2]]
    check_equal(vcov(obj), ref[[nm]]$classical, paste(label, nm, "vcov()"))
    for (tp in c("HC0", "HC1")) {
      check_equal(vcovHC(obj, type = tp), ref[[nm]][[tp]],
                  paste(label, nm, "sandwich", tp))
    }
    check_equal(vcovCL(obj, cluster = df$cl, type = "HC0", cadjust = FALSE),
                ref[[nm]]$CR0, paste(label, nm, "sandwich vcovCL CR0"))
    check_equal(vcovCL(obj, cluster = df$cl, type = "HC1"), ref[[nm]]$stata,
                paste(label, nm, "sandwich vcovCL HC1"))
  }
  # sandwich's HC2/HC3 on the weighted lm use h_i = w_i x_i' B x_i, as estimatr
  for (tp in c("HC2", "HC3")) {
    check_equal(vcovHC(olsfit, type = tp), ref$ols[[tp]],
                paste(label, "ols sandwich", tp))
  }
  # On ivreg they use AER's hatvalues.ivreg (observed regressors on one side):
  # stored as a comparison only.
  sand_iv <- list()
  for (tp in c("HC2", "HC3")) {
    se_s <- se_of(vcovHC(ivfit, type = tp))
    sand_iv[[tp]] <- list(std_error = I(se_s),
                          rel_diff_se = I(se_s / unclass(iv[[tp]]$std_error) - 1))
  }
  # estimatr's weighted CR2 (working model before weighting) and
  # clubSandwich's on the weighted fits, which agrees with it.
  est_cr2 <- list()
  for (pair in list(list(ivfit, "iv", iv, iv_robust, f_iv),
                    list(olsfit, "ols", ols, lm_robust, f_ols))) {
    fit <- fit_est(pair[[4]], pair[[5]], "CR2")
    V_c <- as.matrix(vcovCR(pair[[1]], cluster = df$cl, type = "CR2"))
    check_equal(V_c, fit$vcov, paste(label, pair[[2]], "clubSandwich = estimatr"))
    est_cr2[[pair[[2]]]] <- list(
      working_model = "homoskedastic before weighting (inverse_var = FALSE)",
      std_error = I(unname(fit$std.error)),
      df = I(unname(fit$df)),
      rel_diff_se = I(unname(fit$std.error) / unclass(pair[[3]]$CR2$std_error) - 1),
      rel_diff_df = I(unname(fit$df) / unclass(pair[[3]]$CR2$df) - 1)
    )
  }

  # ------------------------------------------------- first-stage tests --
  pick <- match(insts, fs_terms)
  first <- list()
  for (tp in TYPES) {
    V <- ref$first_stage[[tp]][pick, pick]
    first[[tp]] <- list(wald_f = wald(b_fs[pick], V) / length(insts))
  }
  restricted <- lm(m ~ x1 + x2 + z + r, data = df, weights = wt)
  unrestricted <- lm(f_fs, data = df, weights = wt)
  rss_r <- sum(wt * residuals(restricted)^2)
  rss_u <- sum(wt * residuals(unrestricted)^2)
  partial_f <- ((rss_r - rss_u) / length(insts)) / (rss_u / (n - ncol(Q)))
  check_equal(partial_f, anova(restricted, unrestricted)$F[2],
              paste(label, "partial F"))

  # ------------------------------------------------- Anderson-Rubin --
  # W(theta0): Wald statistic of the interactions in the weighted regression
  # of y - theta0 m on Q, with the covariance type (lm_robust).
  ar_stat <- function(theta0, tp) {
    data <- df
    data$ytil <- data$y - theta0 * data$m
    f <- as.formula(paste("ytil ~", paste(c(exog, insts), collapse = " + ")))
    fit <- fit_est(lm_robust, f, tp, data)
    wald(fit$coefficients[insts], fit$vcov[insts, insts])
  }
  ar <- list()
  for (tp in c("classical", "HC1", "HC3", "stata")) {
    ar[[tp]] <- list(theta0 = I(AR_VALUES),
                     wald = I(vapply(AR_VALUES, ar_stat, numeric(1), tp = tp)))
  }
  # The HC1 set {theta0: W <= chi2(p) 0.95 quantile}: ends by uniroot from the
  # sign changes on a grid (the set is bounded here).
  crit <- qchisq(1 - ALPHA, length(insts))
  grid <- seq(-10, 10, by = 0.01)
  g <- vapply(grid, ar_stat, numeric(1), tp = "HC1") - crit
  change <- which(diff(sign(g)) != 0)
  stopifnot(length(change) == 2L, g[1] > 0, g[length(g)] > 0)
  ends <- vapply(change, function(i) {
    uniroot(function(t) ar_stat(t, "HC1") - crit,
            c(grid[i], grid[i + 1]), tol = 1e-13)$root
  }, numeric(1))
  ar$HC1$set <- I(ends)

  list(
    weights = label,
    n = as.integer(n),
    n_clusters = as.integer(G),
    sum_weights = sum(wt),
    terms = I(terms),
    first_stage_terms = I(fs_terms),
    instruments = I(insts),
    iv = iv,
    ols = ols,
    first_stage = fs,
    first_stage_tests = c(list(partial_f = partial_f), first),
    anderson_rubin = ar,
    comparison = list(sandwich_ivreg = sand_iv, estimatr_weighted_CR2 = est_cr2)
  )
}

# -------------------------------------------------------------------- main --
sites <- read_csv_exact(file.path(script_dir, "trial_sites.csv"))
weights <- list(
  unit_sum = sites$w / sum(sites$w),
  varying = 0.5 + sites$r + 0.25 * sites$site
)
cases <- lapply(names(weights), function(nm) analyse(sites, weights[[nm]], nm))
names(cases) <- names(weights)

res <- list(
  description = paste(
    "estimatr iv_robust / lm_robust with analytic weights on trial_sites.csv;",
    "see README.md, section 'Analytic and probability weights'"),
  dataset = "trial_sites",
  alpha = ALPHA,
  r_version = R.version.string,
  package_versions = list(
    estimatr = as.character(packageVersion("estimatr")),
    clubSandwich = as.character(packageVersion("clubSandwich")),
    AER = as.character(packageVersion("AER")),
    sandwich = as.character(packageVersion("sandwich")),
    jsonlite = as.character(packageVersion("jsonlite"))
  ),
  weights = list(unit_sum = "w / sum(w)", varying = "0.5 + r + 0.25 * site"),
  cases = cases
)
out <- file.path(script_dir, "weights.json")
writeLines(to_json(res), out, useBytes = TRUE)
back <- jsonlite::fromJSON(out, simplifyVector = FALSE)
stopifnot(identical(back$cases$varying$iv$HC1$std_error[[6]],
                    unclass(cases$varying$iv$HC1$std_error)[6]))

for (nm in names(cases)) {
  cs <- cases[[nm]]
  cat(sprintf("%-9s IV m: HC1 %.6f  HC2 %.6f  CR2 %.6f (df %.4g)  AR HC1 [%.6f, %.6f]\n",
              nm, cs$iv$HC1$std_error[6], cs$iv$HC2$std_error[6],
              cs$iv$CR2$std_error[6], cs$iv$CR2$df[6],
              cs$anderson_rubin$HC1$set[1], cs$anderson_rubin$HC1$set[2]))
}
