"""Roles and sectors for profiles that leave them out.

Three signals, combined per label: similarity to short prototype texts (always there), similarity
to the centroid of profiles that declare the label (once enough do), and a small bilingual keyword
list. Softmax over the labels turns scores into confidences. Declared values always win; below the
acceptance threshold the matcher abstains and lists the profile for review.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from matcher import chinese
from matcher.model import ROLES
from matcher.sectors import SECTORS

ROLE_PROTOTYPES: Mapping[str, tuple[str, ...]] = {
    "chip": (
        "We design AI accelerator chips: NPU and SoC silicon for neural network inference.",
        "Semiconductor company taping out low-power edge AI processors, ASICs and FPGA IP.",
        "Fabless chip designer of RISC-V cores, GPUs and automotive computing platforms.",
        "我们设计人工智能芯片：用于神经网络推理的NPU、GPU和SoC处理器。",
    ),
    "algorithm": (
        "We develop machine learning models and computer vision algorithms licensed to partners.",
        "AI software company training deep learning models for detection, segmentation and speech.",
        "Research lab building foundation models, perception algorithms and AI software toolkits.",
        "A company building large language models and generative AI assistants.",
        "我们研发人工智能算法和深度学习模型，为合作伙伴提供视觉、语音和大模型软件。",
    ),
    "application": (
        "A hospital deploying AI tools in clinical care and running pilots with patients.",
        "A manufacturer using AI on its production lines for inspection and predictive maintenance.",
        "A carmaker and fleet operator integrating driver assistance into its vehicles.",
        "An operator that runs city services, logistics or data centres and buys AI solutions.",
        "A pharmaceutical, medical device or industrial company applying AI in its own products and R&D.",
        "A logistics, retail or services company deploying AI and robots in its operations.",
        "我们是医院、车企、工厂或运营机构，在自己的业务中引入和试点人工智能方案。",
    ),
}

SECTOR_PROTOTYPES: Mapping[str, tuple[str, ...]] = {
    "healthcare": (
        "Hospitals, clinics, medical imaging, diagnosis, radiology, endoscopy and patient care.",
        "Medical devices and clinical decision support for doctors.",
        "医院、临床诊断、医学影像和患者服务。",
    ),
    "life_sciences": (
        "Drug discovery, genomics, protein structure, biotech and pharmaceutical research.",
        "Digital pathology, molecular biology and laboratory automation.",
        "药物研发、基因组学、生物医药和蛋白质结构。",
    ),
    "manufacturing": (
        "Factories, production lines, industrial inspection, AOI defect detection and robotics.",
        "Electronics assembly, precision parts, quality control and predictive maintenance.",
        "工厂、生产线、工业质检和智能制造。",
    ),
    "vehicles": (
        "Autonomous driving, ADAS, smart connected vehicles, LiDAR perception and in-cabin AI.",
        "Carmakers, robotaxis, electric vehicles and intelligent cockpits.",
        "Logistics fleets, delivery robots, trucks and mobility services.",
        "汽车、自动驾驶、智能网联汽车和智能座舱。",
    ),
    "smart_city": (
        "Smart city services: traffic management, public safety cameras, buildings and utilities.",
        "Urban infrastructure, logistics, ports and environmental monitoring.",
        "Security cameras, face recognition, access control, smart retail and public services.",
        "智慧城市、交通管理、公共安全和城市公用设施。",
    ),
    "cloud": (
        "Cloud computing, data centres, GPU clusters, model training and inference services.",
        "Large language model platforms, MLOps and compute provided as a service.",
        "Enterprise AI platforms, AI software for businesses and large-scale model serving.",
        "云计算、数据中心、算力和大模型服务。",
    ),
}

# Generic terms only, English and Chinese (Simplified: texts are folded to it first): no entity name.
KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "chip": ("chip", "chips", "soc", "socs", "npu", "asic", "fpga", "silicon", "semiconductor", "tape-out",
             "taped out", "risc-v", "accelerator", "tops", "die", "芯片", "半导体", "集成电路", "处理器",
             "加速卡"),
    "algorithm": ("algorithm", "algorithms", "models", "deep learning", "deep-learning", "machine learning",
                  "software", "sdk", "trains", "算法", "模型", "软件", "大模型", "人工智能平台", "识别"),
    "application": ("hospital", "hospitals", "factory", "factories", "carmaker", "operator", "operates", "fleet",
                    "deploy", "pilot site", "customers", "医院", "工厂", "车企", "运营", "车型", "患者", "生产线",
                    "药企"),
    "healthcare": ("hospital", "clinical", "clinic", "medical", "patient", "radiology", "endoscopy", "colonoscopy",
                   "screening", "diagnos", "health", "retinopathy", "cardio", "surgery", "医院", "医疗", "临床",
                   "健康", "筛查", "影像", "诊断", "病理", "手术"),
    "life_sciences": ("drug", "genomic", "protein", "pathology", "biotech", "pharma", "molecul", "antibod",
                      "sequencing", "cell", "药物", "基因", "生物", "制药", "医药", "蛋白", "分子"),
    "manufacturing": ("factory", "manufactur", "inspection", "aoi", "production line", "assembly", "plc",
                      "predictive maintenance", "defect", "industrial", "plants", "工厂", "制造", "质检", "工业",
                      "生产线", "缺陷"),
    "vehicles": ("vehicle", "driving", "adas", "lidar", "automotive", "car", "cars", "robotaxi", "cockpit",
                 "汽车", "自动驾驶", "车联网", "车辆", "驾驶", "座舱", "出租车"),
    "smart_city": ("city", "cities", "traffic", "urban", "public safety", "building", "street", "lamppost",
                   "licence-plate", "license plate", "utilities", "government", "bridges", "people counting",
                   "城市", "交通", "路灯", "井盖", "楼宇", "公用事业", "政府", "地铁", "机场"),
    "cloud": ("cloud", "data centre", "data center", "gpu cluster", "compute", "llm", "language model",
              "inference service", "云", "数据中心", "算力", "大模型", "超算", "智算"),
}

TEMPERATURE = 0.05
PROTOTYPE_WEIGHT = 1.0
CENTROID_WEIGHT = 1.0
NEIGHBOUR_WEIGHT = 1.0
LEARNED_WEIGHT = 4.0  # cross-validated on dev folds: role precision 0.855 at 2, 0.876 at 4
KEYWORD_BOOST = 0.04
MIN_LABELLED = 3
# Roles: one of three, and a wrong role puts a profile in the wrong lists, so be sure. Sectors: one or
# more of six, and a missing sector hides a profile from its chain, so accept a clear leader.
ROLE_ACCEPT = 0.45
SECTOR_ACCEPT = 0.35
SECTOR_SECONDARY = 0.45
NON_ENGLISH_CAP = 0.45


def mostly_english(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return not letters or sum(c.isascii() for c in letters) / len(letters) >= 0.6


@dataclass
class LabelCentroids:
    """Sums of the vectors of profiles that declare each label, kept up to date as profiles change."""

    labels: Sequence[str]
    sums: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, vector: Sequence[float], labels: Sequence[str], sign: int = 1) -> None:
        for label in labels:
            if label not in self.labels:
                continue
            current = self.sums.get(label)
            delta = sign * np.asarray(vector, dtype=np.float64)
            self.sums[label] = delta if current is None else current + delta
            self.counts[label] = self.counts.get(label, 0) + sign

    def similarities(self, vector: np.ndarray) -> dict[str, float] | None:
        """Cosine to each label's centroid; None until every label has MIN_LABELLED examples."""
        if any(self.counts.get(label, 0) < MIN_LABELLED for label in self.labels):
            return None
        out = {}
        for label in self.labels:
            centroid = self.sums[label]
            out[label] = float(vector @ centroid / (np.linalg.norm(centroid) or 1.0))
        return out


@dataclass(frozen=True)
class LabelModel:
    """A linear classifier per label of one group over one embedder's vectors, fitted offline on labelled
    profiles in English and Chinese (benchmarks/fit_labels.py): `coef` has a row per label."""

    labels: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray

    def distribution(self, vector: np.ndarray) -> dict[str, float]:
        odds = np.exp(-(self.coef @ vector + self.intercept))
        chance = 1.0 / (1.0 + odds)
        return dict(zip(self.labels, (chance / chance.sum()).tolist(), strict=True))


@dataclass(frozen=True)
class Inferred:
    confidences: dict[str, float]
    accepted: tuple[str, ...]


def _keyword_hits(folded: str, label: str) -> int:
    """Keywords of `label` in a text already folded (matcher.chinese.fold)."""
    return sum(1 for word in KEYWORDS.get(label, ()) if re.search(rf"(?<![a-z]){re.escape(word)}", folded))


Neighbours = Sequence[tuple[float, Sequence[str]]]  # (similarity, declared labels) of nearby profiles


def _softmax(scores: Mapping[str, float]) -> dict[str, float]:
    logits = np.array(list(scores.values())) / TEMPERATURE
    weights = np.exp(logits - logits.max())
    return dict(zip(scores, weights / weights.sum(), strict=True))


def _votes(labels: Sequence[str], neighbours: Neighbours) -> dict[str, float] | None:
    """Similarity-weighted votes of the nearest profiles that declare their labels."""
    if len(neighbours) < MIN_LABELLED:
        return None
    totals = dict.fromkeys(labels, 0.0)
    for similarity, declared in neighbours:
        for label in declared:
            if label in totals:
                totals[label] += max(similarity, 0.0) ** 2 / len(declared)
    total = sum(totals.values())
    return {label: value / total for label, value in totals.items()} if total else None


class Inferrer:
    def __init__(self, prototypes: Mapping[str, Mapping[str, np.ndarray]], *, multilingual: bool,
                 learned: Mapping[str, LabelModel] | None = None):
        self._prototypes = prototypes  # group ("roles"/"sectors") -> label -> matrix of prototype vectors
        self._multilingual = multilingual
        self._learned = dict(learned or {})

    @classmethod
    def build(cls, embed, *, multilingual: bool, learned: Mapping[str, LabelModel] | None = None) -> Inferrer:
        """`multilingual`: whether `embed` reads Chinese; if not, only keywords speak for a Chinese text.
        `learned`: label models fitted for this embedder's vectors, by group, when there are any."""
        groups = {"roles": ROLE_PROTOTYPES, "sectors": SECTOR_PROTOTYPES}
        texts = [t for group in groups.values() for texts in group.values() for t in texts]
        vectors = iter(np.asarray(embed(texts), dtype=np.float64))
        return cls({name: {label: np.stack([next(vectors) for _ in texts]) for label, texts in group.items()}
                    for name, group in groups.items()}, multilingual=multilingual, learned=learned)

    def reads(self, text: str) -> bool:
        """Whether the model's vector of `text` can be trusted for inference."""
        return self._multilingual or mostly_english(text)

    def infer(self, group: str, vector: Sequence[float], text: str, centroids: LabelCentroids | None = None,
              neighbours: Neighbours = (), *, accept: float = ROLE_ACCEPT, secondary: float | None = None) -> Inferred:
        """Average of the available distributions: prototypes (with keywords), centroids, neighbours."""
        prototypes = self._prototypes[group]
        folded = chinese.fold(text)  # once, not once per label
        hits = {label: min(_keyword_hits(folded, label), 3) for label in prototypes}
        if not self.reads(text):
            # The model does not read this language: only the keyword list speaks, and never with confidence.
            total = sum(hits.values())
            confidences = {label: round(NON_ENGLISH_CAP * n / total, 4) if total else 0.0
                           for label, n in hits.items()}
        else:
            confidences = self._combined(prototypes, np.asarray(vector, dtype=np.float64), hits, centroids,
                                         neighbours, self._learned.get(group))
        ranked = sorted(confidences, key=confidences.get, reverse=True)
        accepted = [ranked[0]] if confidences[ranked[0]] >= accept else []
        if accepted and secondary is not None:
            accepted += [label for label in ranked[1:] if confidences[label] >= secondary]
        return Inferred(confidences=confidences, accepted=tuple(accepted))


    @staticmethod
    def _combined(prototypes: Mapping[str, np.ndarray], v: np.ndarray, hits: Mapping[str, int],
                  centroids: LabelCentroids | None, neighbours: Neighbours,
                  learned: LabelModel | None) -> dict[str, float]:
        scores = {label: float((matrix @ v).max()) + KEYWORD_BOOST * hits[label]
                  for label, matrix in prototypes.items()}
        distributions = [(PROTOTYPE_WEIGHT, _softmax(scores))]
        near_centroids = centroids.similarities(v) if centroids is not None else None
        if near_centroids is not None:
            distributions.append((CENTROID_WEIGHT, _softmax(near_centroids)))
        voted = _votes(list(prototypes), neighbours)
        if voted is not None:
            distributions.append((NEIGHBOUR_WEIGHT, voted))
        if learned is not None:
            distributions.append((LEARNED_WEIGHT, learned.distribution(v)))
        total = sum(weight for weight, _ in distributions)
        return {label: round(float(sum(w * d[label] for w, d in distributions) / total), 4) for label in prototypes}


__all__ = ["ROLES", "SECTORS", "Inferrer", "Inferred", "LabelCentroids", "LabelModel", "mostly_english"]
