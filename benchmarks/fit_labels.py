"""`make fit`: the label models (matcher.inference.LabelModel) of an embedder, learned from the dev split.

Every dev company and lab is a sample twice when it has a Chinese version (as written in English and as
written in Chinese), with its roles and sectors left out of the text, as inference sees a profile that
did not declare them. One logistic regression per label (balanced, since chip makers are fewer than
users of AI); the coefficients go beside the code (matcher/adapters/labels/), keyed by the embedder.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from benchmarks.evaluate import build_embedder
from benchmarks.park import cases, rows
from matcher.adapters.label_files import save_label_models
from matcher.inference import LabelModel
from matcher.model import ROLES, Profile
from matcher.sectors import SECTORS

C = 4.0  # inverse regularization: held-out role accuracy was flat from 4 to 16 on dev folds


def samples(embedder) -> tuple[np.ndarray, list[frozenset[str]], list[frozenset[str]]]:
    texts, roles, sectors = [], [], []
    for language in ("english", "bilingual"):
        for case in cases(rows(), language=language, mask_seed=None):
            translated_twice = language == "bilingual" and case.script == "en"  # the English one is in already
            if case.split != "dev" or case.profile.kind == "project" or translated_twice:
                continue
            undeclared = {k: v for k, v in case.profile.data.items() if k not in ("roles", "sectors")}
            texts.append(Profile.from_data(case.profile.kind, undeclared).text())
            roles.append(case.roles)
            sectors.append(case.sectors)
    return np.asarray(embedder.embed(texts)), roles, sectors


def fit(vectors: np.ndarray, truth: Sequence[frozenset[str]], labels: Sequence[str]) -> LabelModel:
    coef, intercept = [], []
    for label in labels:
        model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
        model.fit(vectors, [label in t for t in truth])
        coef.append(model.coef_[0])
        intercept.append(model.intercept_[0])
    return LabelModel(labels=tuple(labels), coef=np.array(coef), intercept=np.array(intercept))


def main(argv: Sequence[str] = ()) -> None:
    embedder = build_embedder(argv[0] if argv else None)
    vectors, roles, sectors = samples(embedder)
    path = save_label_models(embedder.name, {"roles": fit(vectors, roles, ROLES),
                                             "sectors": fit(vectors, sectors, SECTORS)})
    print(f"{len(vectors)} samples; label models for {embedder.name} written to {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
