"""`make eval`: matching quality on the park set (benchmarks/park.py), English and bilingual, against two
baselines, over several seeds of which profiles arrive without roles and sectors.

Figures (each a mean over the split's queries; a run prints the median over seeds and the range):
- role accuracy: for each profile and each role it lacks, the share of its top-5 suggestions for that
  role that truly hold it;
- sector precision@5: the share of its top-5 suggestions sharing a true sector, over min(5, attainable);
- partner hit@5: for each known partner of a query, whether it is in the query's top 5 for one of the
  partner's roles that the query lacks;
- triad validity: for each project, of its top-3 triads (a missing one counts as invalid), those whose
  members truly hold their roles and share a true sector with the project; "of attainable" divides
  instead by min(3, the valid triads the data allows);
- projects served: the share of projects, among those whose needed roles someone in the pool plays,
  that have at least one partnership.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks.park import LANGUAGES, PARK, Case, cases, pool, rows
from chainmatch.bootstrap import embedder_factory
from chainmatch.settings import Settings
from matcher.adapters.edge_store import EdgeStore
from matcher.adapters.label_files import load_label_models
from matcher.model import ROLES, Upsert
from matcher.ports import Embedder
from matcher.service import Matcher

TOP = 5
BATCH = 64
SEEDS = (0, 1, 2, 3, 4)
SPLITS = ("dev", "holdout")

# A ranker answers: the top ids for `case`, optionally limited to those holding `role`.
Ranker = Callable[[Case, str | None], list[str]]
TriadRanker = Callable[[Case], list[tuple[str, str, str]]]


def _mean(values: Sequence[float]) -> float:
    return round(float(np.mean(values)), 3) if values else float("nan")


def figures(everyone: Sequence[Case], queries: Sequence[Case], rank: Ranker, triads: TriadRanker,
            *, by: Callable[[Case], Sequence[str]] | None = None) -> dict[str, float]:
    """The figures over `queries` among `everyone`; `by` also breaks partner hit@5 down by its labels."""
    by_id = {c.profile.id: c for c in everyone}
    role_hits, sector_scores, partner_hits, valid, of_attainable, served = [], [], [], [], [], []
    groups: dict[str, list[bool]] = defaultdict(list)
    for case in queries:
        lacks = case.lacks()
        for role in lacks:
            role_hits += [role in by_id[i].roles for i in rank(case, role)[:TOP]]
        attainable = [c for c in everyone if c is not case and c.roles & set(lacks) and c.sectors & case.sectors]
        if attainable:
            shared = sum(bool(by_id[i].sectors & case.sectors) for i in rank(case, None)[:TOP])
            sector_scores.append(min(shared / min(TOP, len(attainable)), 1.0))
        for other_id in sorted(case.partners & by_id.keys()):
            roles = [r for r in by_id[other_id].roles if r in lacks]
            if roles:
                hit = any(other_id in rank(case, r)[:TOP] for r in roles)
                partner_hits.append(hit)
                for label in by(case) if by else ():
                    groups[label].append(hit)
        if case.profile.kind != "project":
            continue
        found = triads(case)[:3]
        hits = [all(role in m.roles for role, m in zip(ROLES, members, strict=True))
                and all(m.sectors & case.sectors for m in members)
                for members in ([by_id[i] for i in ids] for ids in found)]
        valid += hits + [False] * (3 - len(found))
        per_role = [sum(1 for c in everyone if r in c.roles and c.sectors & case.sectors) for r in ROLES]
        if attainable_triads := min(3, int(np.prod(per_role))):
            of_attainable.append(sum(hits) / attainable_triads)
        if all(any(r in c.roles for c in everyone) for r in lacks):
            served.append(bool(found))
    result = {"role accuracy": _mean(role_hits), "sector precision@5": _mean(sector_scores),
              "partner hit@5": _mean(partner_hits), "triad validity": _mean(valid),
              "triad validity of attainable": _mean(of_attainable), "projects served": _mean(served)}
    return result | {f"partner hit@5 [{label}]": _mean(hits) for label, hits in sorted(groups.items())}


def matcher_rankers(matcher: Matcher) -> tuple[Ranker, TriadRanker]:
    def rank(case: Case, role: str | None) -> list[str]:
        found = matcher.suggest(case.profile.id, roles=[role] if role else None, limit=TOP) or []
        return [s.profile.id for s in found]

    def triads(case: Case) -> list[tuple[str, str, str]]:
        return [(r["chip"]["id"], r["algorithm"]["id"], r["application"]["id"])
                for r in matcher.partnerships(project_id=case.profile.id)]

    return rank, triads


def cosine_rankers(everyone: Sequence[Case], vectors: np.ndarray, *, true_roles: bool) -> tuple[Ranker, TriadRanker]:
    """Plain cosine, or cosine among those whose true roles fit: the two baselines."""
    index = {c.profile.id: n for n, c in enumerate(everyone)}

    def nearest(case: Case, allowed: Callable[[Case], bool]) -> list[str]:
        order = np.argsort(-(vectors @ vectors[index[case.profile.id]]), kind="stable")
        return [everyone[n].profile.id for n in order if everyone[n] is not case and allowed(everyone[n])]

    def rank(case: Case, role: str | None) -> list[str]:
        if not true_roles:
            return nearest(case, lambda c: c.profile.kind != "project")
        wanted = {role} if role else set(case.lacks())
        return nearest(case, lambda c: bool(c.roles & wanted))

    def triads(case: Case) -> list[tuple[str, str, str]]:
        if true_roles:
            per_role = [nearest(case, lambda c, r=r: r in c.roles)[:3] for r in ROLES]
            return [tuple(ids) for ids in zip(*per_role, strict=False)]
        ids = nearest(case, lambda c: c.profile.kind != "project")[:9]
        return [tuple(ids[k : k + 3]) for k in range(0, len(ids) - 2, 3)]

    return rank, triads


class RememberingEmbedder:
    """The same texts recur in every run of the evaluation: each is encoded once."""

    def __init__(self, embedder: Embedder):
        self._embedder, self._known = embedder, {}
        self.name, self.dimension = embedder.name, embedder.dimension
        self.multilingual = getattr(embedder, "multilingual", False)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        new = [t for t in dict.fromkeys(texts) if t not in self._known]
        self._known.update(zip(new, self._embedder.embed(new), strict=True))
        return [self._known[t] for t in texts]


def loaded_matcher(everyone: Sequence[Case], embedder: Embedder, folder: Path) -> tuple[Matcher, EdgeStore]:
    store = EdgeStore(folder / "store")
    matcher = Matcher(embedder=embedder, store=store, label_models=load_label_models(embedder.name))
    matcher.ensure_model()
    for start in range(0, len(everyone), BATCH):
        matcher.apply([Upsert(c.profile) for c in everyone[start : start + BATCH]])
    return matcher, store


def run(split: str, language: str, seed: int, embedder: Embedder, table) -> dict[str, dict[str, float]]:
    everyone = pool(cases(table, language=language, mask_seed=seed), split)
    queries = [c for c in everyone if c.split == split]
    by = (lambda c: [*sorted(c.sectors), c.script]) if language == "bilingual" else (lambda c: sorted(c.sectors))
    with tempfile.TemporaryDirectory() as folder:
        matcher, store = loaded_matcher(everyone, embedder, Path(folder))
        results = {"chainmatch": figures(everyone, queries, *matcher_rankers(matcher), by=by)}
        store.close()
    vectors = np.asarray(embedder.embed([c.profile.text() for c in everyone]))
    for name, true_roles in (("plain cosine", False), ("cosine, true roles", True)):
        results[name] = figures(everyone, queries, *cosine_rankers(everyone, vectors, true_roles=true_roles))
    return results


def cross_lingual(table, embedder: Embedder) -> dict[str, float]:
    """Over the profiles with a Chinese version, as the model reads them: how often a profile's nearest
    text in the other language is its own translation (each direction), and how often the two versions
    are each other's nearest neighbour in one pool of every text in both languages, where a crowded
    sector puts near-twins of the same language in between."""
    english = {c.profile.id: c.profile.text() for c in cases(table, language="english", mask_seed=None)}
    chinese = {c.profile.id: c.profile.text() for c in cases(table, language="bilingual", mask_seed=None)
               if c.script != "en"}
    both = list(chinese)
    en = np.asarray(embedder.embed(list(english.values())))
    zh = np.asarray(embedder.embed([chinese[i] for i in both]))
    row = {i: n for n, i in enumerate(english)}
    across = zh @ en.T  # Chinese versions against every English profile
    zh_to_en = _mean([list(english)[k] == i for i, k in zip(both, across.argmax(axis=1), strict=True)])
    en_to_zh = _mean([both[k] == i for i, k in zip(both, across[:, [row[i] for i in both]].argmax(axis=0),
                                                     strict=True)])
    pooled = np.vstack([en, zh])
    similarity = pooled @ pooled.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = similarity.argmax(axis=1)
    mutual = _mean([nearest[row[i]] == len(en) + n and nearest[len(en) + n] == row[i] for n, i in enumerate(both)])
    return {"Chinese to English": zh_to_en, "English to Chinese": en_to_zh, "mutual in one pool": mutual}


def table_of(title: str, runs: Sequence[dict[str, dict[str, float]]]) -> str:
    """Median over the runs, and the range when they differ."""
    systems = list(runs[0])
    metrics = [m for m in runs[0]["chainmatch"] if "[" not in m]
    lines = [f"| {title} | " + " | ".join(metrics) + " |", "| --- |" + " --- |" * len(metrics)]
    for system in systems:
        cells = []
        for m in metrics:
            values = [r[system][m] for r in runs if not np.isnan(r[system][m])]
            if not values:
                cells.append("n/a")
                continue
            low, high = min(values), max(values)
            cells.append(f"{statistics.median(values):.3f}" + (f" ({low:.3f}-{high:.3f})" if high > low else ""))
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    labels = sorted({m for r in runs for m in r["chainmatch"] if "[" in m})
    breakdown = ", ".join(f"{m.split('[')[1][:-1]} {statistics.median([r['chainmatch'][m] for r in runs]):.2f}"
                          for m in labels)
    return "\n".join(lines) + (f"\n\nchainmatch partner hit@5 by sector and script: {breakdown}" if breakdown else "")


def build_embedder(model: str | None) -> Embedder:
    """The model `CHAINMATCH_MODEL` would name, in this process, with both cores for the encoder."""
    return embedder_factory(Settings(model=model, model_threads=2))()


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(prog="make eval", description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="CHAINMATCH_MODEL to evaluate (default: the default encoder)")
    parser.add_argument("--splits", nargs="+", default=SPLITS, choices=SPLITS)
    parser.add_argument("--languages", nargs="+", default=LANGUAGES, choices=LANGUAGES)
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--data", type=Path, default=PARK)
    args = parser.parse_args(argv)
    embedder = RememberingEmbedder(build_embedder(args.model))
    table = rows(args.data)
    print(f"model {embedder.name}; {len(table)} profiles; seeds {list(args.seeds)}\n", flush=True)
    for split in args.splits:
        for language in args.languages:
            runs = [run(split, language, seed, embedder, table) for seed in args.seeds]
            print(table_of(f"{split}, {language}", runs), end="\n\n", flush=True)
    shares = ", ".join(f"{name} {value:.3f}" for name, value in cross_lingual(table, embedder).items())
    print(f"cross-lingual nearest neighbour is the profile's own translation: {shares}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
