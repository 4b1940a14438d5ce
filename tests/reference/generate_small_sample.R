# Small-sample covariance reference values (HC2, HC3, CR2) and t-based
# intervals for skmediate's IV mediation estimators, computed with estimatr.
#
# Run from the repository root (after `python tests/reference/make_data.py`):
#
#     Rscript tests/reference/generate_small_sample.R
#
# Writes tests/reference/small_sample.json.  Needs the R packages estimatr,
# clubSandwich, AER, sandwich and jsonlite.  As in generate_reference.R, the
# CSV numbers are parsed with jsonlite's (correctly rounded) number parser, the
# JSON is written by hand with sprintf("%.17g") and re-read with jsonlite to
# check that it round-trips exactly.
#
# Cases (see README.md, section "Small-sample covariances"):
#   binary          trial_binary.csv,    no clusters,      x1 x2,    control z
#   clustered       trial_clustered.csv, clusters cluster, x1 x2 x3, control z
#   sites           trial_sites.csv,     clusters site,    x1 x2,    control z
#                   (unweighted: the column w is ignored)
#   sites_expanded  trial_sites.csv with every row repeated w times (copies
#                   consecutive, rows in file order), clusters site
# The excluded instruments are rx_j = r * (x_j - mean(x_j)), the mean taken over
# the rows used (for sites_expanded: over the expanded rows).
#
# Every estimatr covariance is recomputed here from explicit matrix formulas
# (and the CR2 degrees of freedom, the intervals and p-values from their
# definitions); the script stops if anything disagrees beyond 1e-10 relative.
#
# What sandwich::vcovHC(<ivreg>, type = "HC2"/"HC3") uses instead.  The meat is
# built by sandwich::meatHC from model.matrix(<ivreg>) -- the *projected*
# regressors Dhat = P_W D -- and the structural residuals e = y - D b, exactly
# as estimatr does; the difference is the leverage.  AER's hatvalues.ivreg
# (AER 1.2.10) is
#     xz <- model.matrix(model, component = "projected")
#     x  <- model.matrix(model, component = "regressors")
#     z  <- model.matrix(model, component = "instruments")
#     diag(x %*% solve_qr(xz) %*% t(x) %*% z %*% solve_qr(z) %*% t(z))
# i.e. the diagonal of the (non-symmetric) 2SLS hat matrix H = D B Dhat', the
# matrix that maps y to the fitted values D b:  h_i = d_i' B dhat_i with d_i
# the row of the *original* regressors (observed m) and dhat_i the projected
# row, B = (Dhat'Dhat)^{-1}.  estimatr uses h_i = dhat_i' B dhat_i, the
# leverage of the second-stage design Dhat.  Both have trace k; they differ row
# by row because d_i - dhat_i (the first-stage residual of m) is not zero.
# The script recomputes sandwich's HC2/HC3 with h_i = d_i' B dhat_i (and stops
# if that disagrees), and stores the relative SE differences in the JSON
# ("comparison" -> "sandwich_ivreg").

suppressPackageStartupMessages({
  library(estimatr)
  library(clubSandwich)
  library(AER)
  library(sandwich)
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

ALPHA <- 0.05
TOL <- 1e-10  # tolerance for the internal consistency checks (all.equal)
HC_TYPES <- c("HC0", "HC1", "HC2", "HC3")
CR_TYPES <- c("CR0", "stata", "CR2")
FS_HC_TYPES <- c("HC2", "HC3")
FS_CR_TYPES <- "CR2"

CASES <- list(
  binary = list(file = "trial_binary", covariates = c("x1", "x2"),
                controls = "z", cluster = NULL, expand = NULL),
  clustered = list(file = "trial_clustered", covariates = c("x1", "x2", "x3"),
                   controls = "z", cluster = "cluster", expand = NULL),
  sites = list(file = "trial_sites", covariates = c("x1", "x2"),
               controls = "z", cluster = "site", expand = NULL),
  sites_expanded = list(file = "trial_sites", covariates = c("x1", "x2"),
                        controls = "z", cluster = "site", expand = "w")
)

# ------------------------------------------------------------------ helpers --
# The JSON writer and the exact CSV reader (reference_helpers.R).
source(file.path(script_dir, "reference_helpers.R"))

# ------------------------------------------------------ matrix formulas ----
# Symmetric inverse square root; eigenvalues <= 1e-12 are set to 0 (as
# estimatr does).
inv_sqrt_sym <- function(S) {
  ev <- eigen(S, symmetric = TRUE)
  d <- ifelse(ev$values > 1e-12, 1 / sqrt(ev$values), 0)
  ev$vectors %*% (d * t(ev$vectors))
}

# Bell-McCaffrey degrees of freedom of CR2 for every coefficient, working
# model Omega = I.  Xd: the design of the sandwich (Dhat for IV), B =
# (Xd'Xd)^{-1}, A_list: the CR2 adjustment A_g per cluster, idx: row indices per
# cluster.  For coefficient j: a_g = A_g Xd_g B l_j, c_g = Xd_g' a_g and the
# G x G matrix P = diag(a_g'a_g) - C' B C (C = [c_1 ... c_G]), i.e.
# P_gh = a_g' (I - Xd B Xd')_{g,h} a_h.  df_j = tr(P)^2 / sum(P^2).
bm_df <- function(Xd, B, A_list, idx) {
  k <- ncol(Xd)
  vapply(seq_len(k), function(j) {
    a <- lapply(seq_along(idx), function(g) {
      drop(A_list[[g]] %*% (Xd[idx[[g]], , drop = FALSE] %*% B[, j]))
    })
    C <- vapply(seq_along(idx), function(g) {
      drop(crossprod(Xd[idx[[g]], , drop = FALSE], a[[g]]))
    }, numeric(k))
    P <- -crossprod(C, B %*% C)
    diag(P) <- diag(P) + vapply(a, function(v) sum(v^2), numeric(1))
    sum(diag(P))^2 / sum(P^2)
  }, numeric(1))
}

# Every covariance estimatr offers, from its definition.  Xd is the design of
# the sandwich (Dhat = P_W D for IV, X for OLS), e the residuals (structural
# for IV), cl the cluster ids or NULL.
vcov_formulas <- function(Xd, e, cl = NULL) {
  n <- nrow(Xd)
  k <- ncol(Xd)
  B <- solve(crossprod(Xd))
  h <- rowSums((Xd %*% B) * Xd)
  sand <- function(omega) B %*% crossprod(Xd * sqrt(omega)) %*% B
  V <- list(
    HC0 = sand(e^2),
    HC1 = n / (n - k) * sand(e^2),
    HC2 = sand(e^2 / (1 - h)),
    HC3 = sand(e^2 / (1 - h)^2)
  )
  df <- list(HC0 = n - k, HC1 = n - k, HC2 = n - k, HC3 = n - k)
  out <- list(V = V, df = df, B = B, h = h)
  if (!is.null(cl)) {
    G <- length(unique(cl))
    idx <- split(seq_len(n), cl)
    S0 <- rowsum(Xd * e, cl)
    V0 <- B %*% crossprod(S0) %*% B
    A_list <- lapply(idx, function(ii) {
      Xg <- Xd[ii, , drop = FALSE]
      inv_sqrt_sym(diag(length(ii)) - Xg %*% B %*% t(Xg))
    })
    S2 <- t(vapply(seq_along(idx), function(g) {
      ii <- idx[[g]]
      drop(crossprod(Xd[ii, , drop = FALSE], A_list[[g]] %*% e[ii]))
    }, numeric(k)))
    V$CR0 <- V0
    V$stata <- G / (G - 1) * (n - 1) / (n - k) * V0
    V$CR2 <- B %*% crossprod(S2) %*% B
    df$CR0 <- G - 1
    df$stata <- G - 1
    df$CR2 <- bm_df(Xd, B, A_list, idx)
    out$V <- V
    out$df <- df
    out$G <- G
  }
  out
}

# The same covariances for a frequency-weighted fit on the compact rows,
# written so that they equal vcov_formulas() on the rows expanded w times.
# Xd, e: compact design (weighted projection for IV) and residuals.
#   HC:  B = (Xd' W Xd)^{-1}, h_i = xd_i' B xd_i (the leverage of each copy,
#        NOT w_i times it), meat sum_i w_i omega_i xd_i xd_i', n = sum(w).
#   CR:  the unweighted formulas applied to the rows scaled by sqrt(w_i):
#        Xs = sqrt(w) Xd, es = sqrt(w) e, with n = sum(w) in the stata factor;
#        the CR2 adjustment and the Bell-McCaffrey df use Xs.
vcov_formulas_freq <- function(Xd, e, w, cl) {
  N <- sum(w)
  k <- ncol(Xd)
  B <- solve(crossprod(Xd * sqrt(w)))
  h <- rowSums((Xd %*% B) * Xd)
  sand <- function(omega) B %*% crossprod(Xd * sqrt(w * omega)) %*% B
  V <- list(
    HC0 = sand(e^2),
    HC1 = N / (N - k) * sand(e^2),
    HC2 = sand(e^2 / (1 - h)),
    HC3 = sand(e^2 / (1 - h)^2)
  )
  df <- list(HC0 = N - k, HC1 = N - k, HC2 = N - k, HC3 = N - k)
  s <- vcov_formulas(Xd * sqrt(w), e * sqrt(w), cl)
  G <- s$G
  V$CR0 <- s$V$CR0
  V$stata <- G / (G - 1) * (N - 1) / (N - k) * s$V$CR0
  V$CR2 <- s$V$CR2
  df$CR0 <- G - 1
  df$stata <- G - 1
  df$CR2 <- s$df$CR2
  list(V = V, df = df)
}

# ------------------------------------------------------------ estimatr fits --
entry_of <- function(fit, terms, with_p = TRUE) {
  stopifnot(identical(names(fit$coefficients), terms),
            identical(rownames(fit$vcov), terms),
            fit$alpha == ALPHA)
  out <- list(
    coef = I(unname(fit$coefficients)),
    std_error = I(unname(fit$std.error)),
    vcov = mat_rows(fit$vcov),
    df = I(unname(fit$df)),
    conf_low = I(unname(fit$conf.low)),
    conf_high = I(unname(fit$conf.high))
  )
  if (with_p) out$p_value <- I(unname(fit$p.value))
  out
}

# t intervals and p-values from their definitions.
check_t <- function(fit, what) {
  q <- qt(1 - ALPHA / 2, fit$df)
  check_equal(fit$conf.low, fit$coefficients - q * fit$std.error,
              paste(what, "conf.low"))
  check_equal(fit$conf.high, fit$coefficients + q * fit$std.error,
              paste(what, "conf.high"))
  check_equal(fit$p.value,
              2 * pt(abs(fit$coefficients / fit$std.error), fit$df,
                     lower.tail = FALSE),
              paste(what, "p.value"))
}

rel_diff <- function(a, b) unname(a / b - 1)

# ----------------------------------------------------------------- analysis --
analyse <- function(case_name, spec) {
  compact <- read_csv_exact(file.path(script_dir, paste0(spec$file, ".csv")))
  if (!is.null(spec$expand)) {
    w <- compact[[spec$expand]]
    stopifnot(is.integer(w), all(w >= 1L))
    df <- compact[rep(seq_len(nrow(compact)), times = w), , drop = FALSE]
    rownames(df) <- NULL
  } else {
    df <- compact
  }
  covs <- spec$covariates
  ctrls <- spec$controls
  clvar <- spec$cluster
  has_cl <- !is.null(clvar)
  stopifnot(all(c("y", "r", "m", covs, ctrls, clvar) %in% names(df)))
  insts <- paste0("r", covs)
  for (j in seq_along(covs)) {
    df[[insts[j]]] <- df$r * (df[[covs[j]]] - mean(df[[covs[j]]]))
  }
  cl <- if (has_cl) df[[clvar]] else NULL
  df$cl <- cl
  exog <- c(covs, ctrls, "r")
  n <- nrow(df)
  G <- if (has_cl) length(unique(cl)) else NULL

  f_ols <- as.formula(paste("y ~", paste(c(exog, "m"), collapse = " + ")))
  f_iv <- as.formula(paste("y ~", paste(c(exog, "m"), collapse = " + "), "|",
                           paste(c(exog, insts), collapse = " + ")))
  f_fs <- as.formula(paste("m ~", paste(c(exog, insts), collapse = " + ")))

  types <- if (has_cl) c(HC_TYPES, CR_TYPES) else HC_TYPES
  fs_types <- if (has_cl) c(FS_HC_TYPES, FS_CR_TYPES) else FS_HC_TYPES
  fit_est <- function(fun, f, type) {
    if (type %in% CR_TYPES) {
      fun(f, data = df, clusters = cl, se_type = type, alpha = ALPHA)
    } else {
      fun(f, data = df, se_type = type, alpha = ALPHA)
    }
  }

  # Matrices for the recomputation.
  y <- df$y
  D <- model.matrix(f_ols, df)
  Wm <- model.matrix(f_fs, df)
  terms <- colnames(D)
  fs_terms <- colnames(Wm)
  k <- ncol(D)
  Dhat <- Wm %*% solve(crossprod(Wm), crossprod(Wm, D))   # P_W D
  B <- solve(crossprod(Dhat))
  b_iv <- drop(B %*% crossprod(Dhat, y))
  e_iv <- drop(y - D %*% b_iv)                             # structural residuals
  b_ols <- drop(solve(crossprod(D), crossprod(D, y)))
  e_ols <- drop(y - D %*% b_ols)
  b_fs <- drop(solve(crossprod(Wm), crossprod(Wm, df$m)))
  e_fs <- drop(df$m - Wm %*% b_fs)

  ref <- list(
    iv = vcov_formulas(Dhat, e_iv, cl),
    ols = vcov_formulas(D, e_ols, cl),
    first_stage = vcov_formulas(Wm, e_fs, cl)
  )

  # Frequency-weighted formulas on the compact rows (sites_expanded only).
  if (!is.null(spec$expand)) {
    wc <- compact[[spec$expand]]
    cc <- compact
    for (j in seq_along(covs)) {
      cc[[insts[j]]] <- cc$r * (cc[[covs[j]]] - weighted.mean(cc[[covs[j]]], wc))
    }
    Dc <- model.matrix(f_ols, cc)
    Wc <- model.matrix(f_fs, cc)
    yc <- cc$y
    Dhat_c <- Wc %*% solve(crossprod(Wc * sqrt(wc)), crossprod(Wc * wc, Dc))
    bc_iv <- drop(solve(crossprod(Dhat_c * sqrt(wc)), crossprod(Dhat_c * wc, yc)))
    bc_ols <- drop(solve(crossprod(Dc * sqrt(wc)), crossprod(Dc * wc, yc)))
    bc_fs <- drop(solve(crossprod(Wc * sqrt(wc)), crossprod(Wc * wc, cc$m)))
    check_equal(bc_iv, b_iv, paste(case_name, "compact weighted iv coef"))
    check_equal(bc_ols, b_ols, paste(case_name, "compact weighted ols coef"))
    check_equal(bc_fs, b_fs, paste(case_name, "compact weighted fs coef"))
    freq <- list(
      iv = vcov_formulas_freq(Dhat_c, drop(yc - Dc %*% bc_iv), wc, cc[[clvar]]),
      ols = vcov_formulas_freq(Dc, drop(yc - Dc %*% bc_ols), wc, cc[[clvar]]),
      first_stage = vcov_formulas_freq(Wc, drop(cc$m - Wc %*% bc_fs), wc,
                                       cc[[clvar]])
    )
  } else {
    freq <- NULL
  }

  run <- function(model, fun, f, tps, tm, coef_ref, with_p = TRUE) {
    out <- list()
    for (tp in tps) {
      fit <- fit_est(fun, f, tp)
      what <- paste(case_name, model, tp)
      check_equal(fit$coefficients, coef_ref, paste(what, "coef"))
      check_equal(fit$vcov, ref[[model]]$V[[tp]], paste(what, "vcov"))
      check_equal(fit$df, rep_len(ref[[model]]$df[[tp]], length(fit$df)),
                  paste(what, "df"))
      check_t(fit, what)
      if (!is.null(freq)) {
        check_equal(fit$vcov, freq[[model]]$V[[tp]],
                    paste(what, "vcov vs compact frequency weights"))
        check_equal(fit$df, rep_len(freq[[model]]$df[[tp]], length(fit$df)),
                    paste(what, "df vs compact frequency weights"))
      }
      stopifnot(fit$nobs == n, is.null(G) || !(tp %in% CR_TYPES) ||
                  fit$nclusters == G)
      out[[tp]] <- entry_of(fit, tm, with_p)
    }
    out
  }

  iv <- run("iv", iv_robust, f_iv, types, terms, b_iv)
  ols <- run("ols", lm_robust, f_ols, types, terms, b_ols)
  fs <- run("first_stage", lm_robust, f_fs, fs_types, fs_terms, b_fs,
            with_p = TRUE)

  # ----------------------------------------------------- comparisons --
  ivfit <- ivreg(f_iv, data = df)
  check_equal(coef(ivfit), b_iv, paste(case_name, "ivreg coef"))
  olsfit <- lm(f_ols, data = df)
  check_equal(coef(olsfit), b_ols, paste(case_name, "lm coef"))

  # sandwich on ivreg: leverage h_i = d_i' B dhat_i (AER hatvalues.ivreg).
  h_aer <- hatvalues(ivfit)
  check_equal(h_aer, rowSums((D %*% B) * Dhat),
              paste(case_name, "AER hatvalues.ivreg = diag(D B Dhat')"))
  h_est <- ref$iv$h
  sand_iv <- list()
  for (tp in c("HC2", "HC3")) {
    V_s <- vcovHC(ivfit, type = tp)
    pw <- if (tp == "HC2") 1 else 2
    check_equal(V_s, B %*% crossprod(Dhat * (e_iv / (1 - h_aer)^(pw / 2))) %*% B,
                paste(case_name, "sandwich ivreg", tp, "formula"))
    se_s <- se_of(V_s)
    se_e <- iv[[tp]]$std_error
    sand_iv[[tp]] <- list(std_error = I(se_s),
                          rel_diff_se = I(rel_diff(se_s, unclass(se_e))))
  }
  # sandwich on lm: same leverage as estimatr, so the same matrices.
  for (tp in c("HC2", "HC3")) {
    check_equal(vcovHC(olsfit, type = tp), ref$ols$V[[tp]],
                paste(case_name, "sandwich lm", tp))
  }
  comparison <- list(
    sandwich_ivreg = c(
      list(leverage = "AER hatvalues.ivreg: diag(D B Dhat')",
           max_abs_leverage_diff = max(abs(h_aer - h_est))),
      sand_iv
    )
  )

  if (has_cl) {
    cs <- list()
    for (nm in c("iv", "ols")) {
      obj <- if (nm == "iv") ivfit else olsfit
      V_c <- vcovCR(obj, cluster = cl, type = "CR2")
      ct <- coef_test(obj, vcov = V_c, test = "Satterthwaite")
      stopifnot(identical(as.character(ct$Coef), terms))
      se_c <- se_of(as.matrix(V_c))
      se_e <- unclass(if (nm == "iv") iv$CR2$std_error else ols$CR2$std_error)
      df_e <- unclass(if (nm == "iv") iv$CR2$df else ols$CR2$df)
      cs[[nm]] <- list(
        std_error = I(se_c),
        df_satterthwaite = I(unname(ct$df_Satt)),
        rel_diff_se = I(rel_diff(se_c, se_e)),
        rel_diff_df = I(rel_diff(unname(ct$df_Satt), df_e))
      )
    }
    comparison$clubsandwich_CR2 <- cs
  }

  # estimatr's own `weights =` on the compact rows: same coefficients, but the
  # weights are not treated as frequency weights (n stays the number of rows),
  # so its SEs and df differ from the expanded fit.  Stored to document this.
  if (!is.null(spec$expand)) {
    cc$wt <- wc
    cc$cl <- cc[[clvar]]
    ew <- list()
    for (tp in c("HC0", "HC2", "CR2")) {
      fw <- if (tp == "CR2") {
        iv_robust(f_iv, data = cc, weights = wt, clusters = cl, se_type = tp,
                  alpha = ALPHA)
      } else {
        iv_robust(f_iv, data = cc, weights = wt, se_type = tp, alpha = ALPHA)
      }
      check_equal(fw$coefficients, b_iv, paste(case_name, "estimatr weights coef"))
      ew[[tp]] <- list(
        std_error = I(unname(fw$std.error)),
        df = I(unname(fw$df)),
        rel_diff_se = I(rel_diff(fw$std.error, unclass(iv[[tp]]$std_error)))
      )
    }
    comparison$estimatr_weights_on_compact_rows <- ew
  }

  list(
    dataset = spec$file,
    rows = if (is.null(spec$expand)) "as in the CSV" else
      paste("each CSV row repeated", spec$expand, "times, copies consecutive"),
    frequency_weights = if (is.null(spec$expand)) NULL else spec$expand,
    n = as.integer(n),
    n_compact = as.integer(nrow(compact)),
    k = as.integer(k),
    covariates = I(covs),
    controls = I(ctrls),
    treatment = "r",
    mediator = "m",
    cluster = clvar,
    n_clusters = if (has_cl) as.integer(G) else NULL,
    cluster_sizes = if (has_cl) I(as.integer(table(cl))) else NULL,
    instruments = I(insts),
    terms = I(terms),
    first_stage_terms = I(fs_terms),
    iv = iv,
    ols = ols,
    first_stage = fs,
    comparison = comparison
  )
}

# -------------------------------------------------------------------- main --
cases <- lapply(names(CASES), function(nm) analyse(nm, CASES[[nm]]))
names(cases) <- names(CASES)

# The expanded case has sum(w) rows.
stopifnot(isTRUE(all.equal(cases$sites_expanded$n,
                           sum(read_csv_exact(file.path(script_dir,
                                                        "trial_sites.csv"))$w))))

res <- list(
  description = paste(
    "estimatr iv_robust / lm_robust small-sample covariances and t intervals;",
    "see README.md, section 'Small-sample covariances (HC2, HC3, CR2) and t",
    "intervals'"),
  alpha = ALPHA,
  r_version = R.version.string,
  package_versions = list(
    estimatr = as.character(packageVersion("estimatr")),
    clubSandwich = as.character(packageVersion("clubSandwich")),
    AER = as.character(packageVersion("AER")),
    sandwich = as.character(packageVersion("sandwich")),
    jsonlite = as.character(packageVersion("jsonlite"))
  ),
  cases = cases
)

out <- file.path(script_dir, "small_sample.json")
writeLines(to_json(res), out, useBytes = TRUE)

# Round trip: every number read back must be identical to the one written.
back <- jsonlite::fromJSON(out, simplifyVector = FALSE)
same_tree <- function(a, b, path = "") {
  if (is.list(a) && !inherits(a, "AsIs")) {
    if (!is.list(b) || length(a) != length(b)) stop("round trip: shape at ", path)
    if (!is.null(names(a)) && !identical(names(a), names(b))) {
      stop("round trip: names at ", path)
    }
    for (i in seq_along(a)) same_tree(a[[i]], b[[i]], paste0(path, "/", i))
    return(invisible(TRUE))
  }
  a <- unclass(unname(a))
  if (is.null(a)) {
    if (!is.null(b)) stop("round trip: null at ", path)
    return(invisible(TRUE))
  }
  bb <- unlist(b)
  if (is.numeric(a) || is.numeric(bb)) {
    a <- as.numeric(a)
    bb <- as.numeric(bb)
  }
  if (!identical(as.vector(a), as.vector(bb))) stop("round trip: value at ", path)
  invisible(TRUE)
}
same_tree(res, back)

for (nm in names(cases)) {
  cs <- cases[[nm]]
  im <- match("m", cs$terms)
  tps <- intersect(c("HC1", "HC2", "HC3", "CR2"), names(cs$iv))
  cat(sprintf("%-15s n=%d%s  IV m:", nm, cs$n,
              if (is.null(cs$n_clusters)) "" else sprintf(" G=%d", cs$n_clusters)))
  for (tp in tps) {
    cat(sprintf("  %s %.6f (%.6f, df %.4g)", tp, cs$iv[[tp]]$coef[im],
                cs$iv[[tp]]$std_error[im], cs$iv[[tp]]$df[im]))
  }
  cat("\n")
}
