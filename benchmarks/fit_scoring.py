"""`make fit`: the pair score's weights, learned from the dev split of the park set.

For every dev profile and every role it lacks, the candidates its suggestion weighs (with their
components: semantic, lexical, sector, ...) are pairs of (true partner, other candidate); a logistic
loss over their score differences, with weights kept non-negative so each term of `score_breakdown`
stays a reason for, never against, is minimized over both languages and every masking seed. Five
folds grouped by profile show how the fit carries to profiles it did not see, against the weights in
matcher.scoring; the fit on all of dev is what to put there.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from benchmarks.evaluate import SEEDS, RememberingEmbedder, build_embedder, loaded_matcher
from benchmarks.park import LANGUAGES, cases, pool, rows
from matcher.scoring import WEIGHTS

TOP = 5
FOLDS = 5
L2 = 0.01
Group = tuple[str, np.ndarray, np.ndarray]  # (query id, components of its partners, of the others)


def groups(embedder) -> list[Group]:
    names, unit = list(WEIGHTS), np.array(list(WEIGHTS.values()))
    found = []
    for language in LANGUAGES:
        for seed in SEEDS:
            everyone = pool(cases(rows(), language=language, mask_seed=seed), "dev")
            with tempfile.TemporaryDirectory() as folder:
                matcher, store = loaded_matcher(everyone, embedder, Path(folder))
                for case in everyone:
                    for role in case.lacks():
                        shown = matcher.suggest(case.profile.id, roles=[role], limit=1000) or []
                        rows_ = np.array([[s.score_breakdown[n] for n in names] for s in shown]) / unit
                        partner = np.array([s.profile.id in case.partners for s in shown], dtype=bool)
                        if partner.any() and (~partner).any():
                            found.append((case.profile.id, rows_[partner], rows_[~partner]))
                store.close()
    return found


def fit(train: Sequence[Group]) -> np.ndarray:
    differences = np.concatenate([(p[:, None, :] - o[None, :, :]).reshape(-1, p.shape[1]) for _, p, o in train])
    sizes = np.concatenate([np.full(len(p) * len(o), 1.0 / (len(p) * len(o))) for _, p, o in train])

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
    for _, partners, others in test:
        scores = others @ weights
        hits += [int((scores >= s).sum()) < TOP for s in partners @ weights]
    return float(np.mean(hits))


def main(argv: Sequence[str] = ()) -> None:
    embedder = RememberingEmbedder(build_embedder(argv[0] if argv else None))
    found = groups(embedder)
    current = np.array(list(WEIGHTS.values()))
    queries = sorted({q for q, _, _ in found})
    fold_of = {q: n % FOLDS for n, q in enumerate(queries)}
    learned, kept = [], []
    for k in range(FOLDS):
        train = [g for g in found if fold_of[g[0]] != k]
        test = [g for g in found if fold_of[g[0]] == k]
        learned.append(hit_rate(test, fit(train)))
        kept.append(hit_rate(test, current))
    print(f"{len(found)} (profile, role) groups with a partner among {len(queries)} dev profiles")
    print(f"held-out hit@5 by fold: learned {np.round(learned, 3).tolist()} (mean {np.mean(learned):.3f}); "
          f"matcher.scoring's weights {np.round(kept, 3).tolist()} (mean {np.mean(kept):.3f})")
    weights = fit(found)
    print("fit on all of dev: {" + ", ".join(f'"{n}": {w:.3f}' for n, w in zip(WEIGHTS, weights, strict=True)) + "}")


if __name__ == "__main__":
    main(sys.argv[1:])
