"""Label models (matcher.inference.LabelModel) kept beside the code, one file per embedder, since a
classifier over one model's vectors means nothing for another's. benchmarks/fit_labels.py writes them."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from matcher.inference import LabelModel

__all__ = ["load_label_models", "save_label_models"]

FOLDER = Path(__file__).resolve().parent / "labels"


def _path(model_name: str, folder: Path) -> Path:
    return folder / (re.sub(r"[^A-Za-z0-9._-]+", "__", model_name) + ".npz")


def load_label_models(model_name: str, folder: Path = FOLDER) -> dict[str, LabelModel]:
    """The models fitted for `model_name`'s vectors by group ("roles", "sectors"); none for other models."""
    path = _path(model_name, folder)
    if not path.is_file():
        return {}
    with np.load(path) as stored:
        return {group: LabelModel(labels=tuple(str(label) for label in stored[f"{group}.labels"]),
                                  coef=stored[f"{group}.coef"], intercept=stored[f"{group}.intercept"])
                for group in ("roles", "sectors") if f"{group}.labels" in stored}


def save_label_models(model_name: str, models: dict[str, LabelModel], folder: Path = FOLDER) -> Path:
    path = _path(model_name, folder)
    arrays = {}
    for group, model in models.items():
        arrays |= {f"{group}.labels": np.array(model.labels), f"{group}.coef": model.coef.astype(np.float32),
                   f"{group}.intercept": model.intercept.astype(np.float32)}
    np.savez_compressed(path, **arrays)
    return path
