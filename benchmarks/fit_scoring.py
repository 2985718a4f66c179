"""`make fit`: the pair score's weights, learned from the dev split of the park set.

For every dev profile and every role it lacks, the candidates its suggestion weighs (with their
components: semantic, lexical, sector, ...) make three kinds of pairs, one per figure of `make eval`
the weights decide: (true partner, other candidate), (candidate truly playing the role, one that does
not: an inferred role can be wrong) and (candidate sharing a true sector, one that does not). A
logistic loss over their score differences, each kind weighted (KINDS), with weights kept
non-negative so each term of `score_breakdown` stays a reason for, never against, is minimized over
both languages and every masking seed. Five folds grouped by profile show how the fit carries to
profiles it did not see (partner hit@5), against the weights in matcher.scoring; the fit on all of
dev is what to put there.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from benchmarks.evaluate import RememberingEmbedder, build_embedder, loaded_matcher
from benchmarks.park import LANGUAGES, cases, pool, rows
from matcher.scoring import WEIGHTS

TOP = 5
SEEDS = (0, 1, 2)  # of the masking; each seed is another third of dev arriving without labels
FOLDS = 5
L2 = 0.01
# (query id, kind of pair, components of the candidates that should rank first, of the others)
Group = tuple[str, str, np.ndarray, np.ndarray]
# How much each kind of pair weighs in the loss: finding the real partner is the hard figure; the
# other two only keep the weights from trading role and sector precision away for it.
KINDS = {"partner": 1.0, "role": 0.2, "sector": 0.2}


def groups(embedder) -> list[Group]:
    names, unit = list(WEIGHTS), np.array(list(WEIGHTS.values()))
    found = []
    for language in LANGUAGES:
        for seed in SEEDS:
            everyone = pool(cases(rows(), language=language, mask_seed=seed), "dev")
            truth = {c.profile.id: c for c in everyone}
            with tempfile.TemporaryDirectory() as folder:
                matcher, store = loaded_matcher(everyone, embedder, Path(folder))
                for case in everyone:
                    for role in case.lacks():
                        shown = matcher.suggest(case.profile.id, roles=[role], limit=1000) or []
                        values = np.array([[s.score_breakdown[n] for n in names] for s in shown]) / unit
                        for kind, first in (
                                ("partner", [s.profile.id in case.partners for s in shown]),
                                ("role", [role in truth[s.profile.id].roles for s in shown]),
                                ("sector", [bool(truth[s.profile.id].sectors & case.sectors) for s in shown])):
                            first = np.array(first, dtype=bool)
                            if first.any() and (~first).any():
                                found.append((case.profile.id, kind, values[first], values[~first]))
                store.close()
    return found


def fit(train: Sequence[Group]) -> np.ndarray:
    differences = np.concatenate([(p[:, None, :] - o[None, :, :]).reshape(-1, p.shape[1]) for _, _, p, o in train])
    per_kind = {kind: sum(1 for g in train if g[1] == kind) for kind in KINDS}
    sizes = np.concatenate([np.full(len(p) * len(o), KINDS[kind] / (len(p) * len(o) * per_kind[kind]))
                            for _, kind, p, o in train])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        margin = differences @ w
        value = np.logaddexp(0.0, -margin)
        gradient = -(differences * (sizes / (1.0 + np.exp(margin)))[:, None]).sum(axis=0)
        return float((sizes * value).sum() + L2 * w @ w), gradient + 2 * L2 * w

    start = np.full(differences.shape[1], 1.0)
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * len(start))
    return result.x / result.x.sum()


def hit_rate(test: Sequence[Group], weights: np.ndarray) -> float:
    """The share of partners ranked in the top 5 of their (profile, role) by `weights`, as make eval counts."""
    hits = []
    for _, kind, partners, others in test:
        if kind != "partner":
            continue
        scores = others @ weights
        hits += [int((scores >= s).sum()) < TOP for s in partners @ weights]
    return float(np.mean(hits))


def main(argv: Sequence[str] = ()) -> None:
    embedder = RememberingEmbedder(build_embedder(argv[0] if argv else None))
    found = groups(embedder)
    current = np.array(list(WEIGHTS.values()))
    queries = sorted({g[0] for g in found})
    fold_of = {q: n % FOLDS for n, q in enumerate(queries)}
    learned, kept = [], []
    for k in range(FOLDS):
        train = [g for g in found if fold_of[g[0]] != k]
        test = [g for g in found if fold_of[g[0]] == k]
        learned.append(hit_rate(test, fit(train)))
        kept.append(hit_rate(test, current))
    print(f"{len(found)} groups of pairs among {len(queries)} dev profiles")
    print(f"held-out hit@5 by fold: learned {np.round(learned, 3).tolist()} (mean {np.mean(learned):.3f}); "
          f"matcher.scoring's weights {np.round(kept, 3).tolist()} (mean {np.mean(kept):.3f})")
    weights = fit(found)
    print("fit on all of dev: {" + ", ".join(f'"{n}": {w:.3f}' for n, w in zip(WEIGHTS, weights, strict=True)) + "}")


if __name__ == "__main__":
    main(sys.argv[1:])
