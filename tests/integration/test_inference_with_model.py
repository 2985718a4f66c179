"""Inference and the text the model reads, with the real default model."""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_entity

from matcher.adapters.memory_store import MemoryStore
from matcher.model import Profile, Upsert
from matcher.service import Matcher


@pytest.fixture
def matcher(sentence_embedder) -> Matcher:
    m = Matcher(embedder=sentence_embedder, store=MemoryStore())
    m.ensure_model()
    return m


@pytest.mark.parametrize(("description", "role", "sector"), [
    ("Fabless designer of low-power NPU chips and automotive SoCs for camera perception in cars.",
     "chip", "vehicles"),
    ("We train deep learning models that detect polyps in colonoscopy video and license them to clinics.",
     "algorithm", "healthcare"),
    ("A contract electronics factory running SMT lines that wants AI visual inspection of solder joints.",
     "application", "manufacturing"),
])
def test_inference_fills_missing_roles_and_sectors(matcher, description, role, sector):
    matcher.apply([Upsert(Profile.from_data("company", make_entity(
        id="silent", roles=None, sectors=None, description=description)))])
    stored = matcher.get("silent")
    assert stored.roles[:1] == (role,)
    assert sector in stored.sectors
    assert stored.inferred["roles"][role] >= 0.5 and not stored.needs_review


def test_a_description_the_model_cannot_read_is_stored_and_flagged_not_inferred(matcher):
    chinese = "我们设计用于边缘推理的人工智能芯片，服务于深圳和香港的医院与工厂。"
    matcher.apply([Upsert(Profile.from_data("company", make_entity(
        id="zh-co", roles=None, sectors=None, description=chinese)))])
    stored = matcher.get("zh-co")
    assert stored.description == chinese
    assert stored.roles == () and stored.needs_review
    assert max(stored.inferred["roles"].values()) < 0.5
    assert "zh-co" not in {s.profile.id for s in matcher.suggest("zh-co", roles=["chip"]) or []}


def test_a_long_description_keeps_the_structured_part(sentence_embedder):
    long_text = "Our company has a long history of serving many customers. " * 60
    chip = Profile.from_data("company", make_entity(roles=["chip"], sectors=["vehicles"], description=long_text))
    algo = Profile.from_data("company", make_entity(roles=["algorithm"], sectors=["healthcare"],
                                                     description=long_text))
    assert sentence_embedder.count_tokens(chip.text()) > sentence_embedder.max_seq_length
    assert chip.text().startswith("Roles: chip. Sectors: vehicles.")
    chip_v, algo_v = (np.asarray(v) for v in sentence_embedder.embed([chip.text(), algo.text()]))
    # Truncation cuts the tail: were the structured fields at the end, both vectors would be equal.
    assert float(chip_v @ algo_v) < 0.999
