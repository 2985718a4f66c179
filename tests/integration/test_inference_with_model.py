"""Inference, suggestions and the text the model reads, with the real models: the default multilingual
encoder for English, Traditional, Simplified and mixed profiles; all-MiniLM-L6-v2 (English only) for
what a model that cannot read Chinese must not do."""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_entity

from matcher.adapters.label_files import load_label_models
from matcher.adapters.memory_store import MemoryStore
from matcher.model import Profile, Upsert
from matcher.service import Matcher


def matcher_of(embedder) -> Matcher:
    m = Matcher(embedder=embedder, store=MemoryStore(), label_models=load_label_models(embedder.name))
    m.ensure_model()
    return m


@pytest.fixture
def matcher(default_embedder) -> Matcher:
    return matcher_of(default_embedder)


def silent(entity_id: str, description: str, **fields) -> Upsert:
    """A company that declares neither roles nor sectors."""
    return Upsert(Profile.from_data("company", make_entity(id=entity_id, roles=None, sectors=None,
                                                           description=description, **fields)))


@pytest.mark.parametrize(("description", "role", "sector"), [
    ("Fabless designer of low-power NPU chips and automotive SoCs for camera perception in cars.",
     "chip", "vehicles"),
    ("A Hong Kong AI start-up whose deep learning software detects polyps in colonoscopy video in real time. "
     "Its detection models are licensed to endoscope makers and cleared for clinical use.",
     "algorithm", "healthcare"),
    ("A contract electronics factory running SMT lines that wants AI visual inspection of solder joints.",
     "application", "manufacturing"),
    # Simplified, as a Shenzhen chip designer writes.
    ("我们是深圳的芯片设计公司，为智能汽车设计车规级AI芯片和自动驾驶计算平台，已在多款量产车型上搭载。",
     "chip", "vehicles"),
    # Traditional, as a Hong Kong hospital writes.
    ("本院是香港的公立醫院，設有放射科和內窺鏡中心，正與合作夥伴試行人工智能醫學影像輔助診斷。",
     "application", "healthcare"),
    # A Chinese sentence, then an English one.
    ("我們為藥廠開發人工智能藥物研發平台，以深度學習預測分子性質。We license our models to biotech partners.",
     "algorithm", "life_sciences"),
])
def test_inference_fills_missing_roles_and_sectors_in_english_and_chinese(matcher, description, role, sector):
    matcher.apply([silent("silent", description)])
    stored = matcher.get("silent")
    assert stored.roles[:1] == (role,), stored.inferred
    assert sector in stored.sectors, stored.inferred
    assert stored.inferred["roles"][role] >= 0.45 and not stored.needs_review


def test_a_simplified_chip_maker_and_an_english_hospital_are_each_others_partners(matcher):
    matcher.apply([
        silent("sz-chip", "我们是深圳的芯片设计公司，设计用于医学影像设备的低功耗AI推理芯片（NPU），"
                          "为超声和CT设备厂商提供芯片和参考设计。", region="CN-GD-SZ"),
        Upsert(Profile.from_data("company", make_entity(
            id="hk-hospital", roles=["application"], sectors=["healthcare"], region="HK",
            description="A Hong Kong hospital piloting AI on its CT and ultrasound scanners for faster reads."))),
        Upsert(Profile.from_data("company", make_entity(
            id="car-factory", roles=["application"], sectors=["vehicles"],
            description="A carmaker building electric SUVs on highly automated assembly lines."))),
        Upsert(Profile.from_data("company", make_entity(
            id="city-ops", roles=["application"], sectors=["smart_city"],
            description="Runs the traffic lights and street cameras of a large city."))),
    ])
    assert matcher.get("sz-chip").roles == ("chip",)
    assert [s.profile.id for s in matcher.suggest("sz-chip", roles=["application"])][0] == "hk-hospital"
    assert [s.profile.id for s in matcher.suggest("hk-hospital", roles=["chip"])] == ["sz-chip"]


def test_a_traditional_query_finds_a_simplified_profile(matcher):
    matcher.apply([silent("sz-av", "我们研发自动驾驶算法，为车企提供城市领航辅助驾驶系统。"),
                   silent("hk-lab", "A Hong Kong lab studying protein folding with deep learning.")])
    [(first, _), _] = matcher.search_entities("自動駕駛軟件", filter={}, limit=2)
    assert first.id == "sz-av"


def test_an_english_only_model_stores_and_flags_a_chinese_description_instead_of_inferring(sentence_embedder):
    matcher = matcher_of(sentence_embedder)
    chinese = "我们设计用于边缘推理的人工智能芯片，服务于深圳和香港的医院与工厂。"
    matcher.apply([silent("zh-co", chinese)])
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
