"""`make eval`: matching quality on tests/data/{dev,holdout}.jsonl against two baselines.

Each line of a data set is {"kind", "data", "truth": {"roles", "sectors"}, "partners": [ids]}; a third
of the entities publish neither roles nor sectors, so the matcher must infer them.

Figures (each a mean):
- role accuracy: for each profile and each role it lacks, the share of its top-5 suggestions for that
  role that truly hold it;
- sector precision@5: the share of its top-5 suggestions sharing a true sector, over min(5, attainable);
- partner hit@5: for each known pair, both directions, whether the partner is in the top 5 for the
  partner's role;
- triad validity: for each project, of its top-3 triads (a missing one counts as invalid), those whose
  members truly hold their roles and share a true sector with the project; "of attainable" divides
  instead by min(3, the valid triads the data allows), as sector precision does.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matcher.adapters.edge_store import EdgeStore
from matcher.model import ROLES, Profile, Upsert
from matcher.ports import Embedder
from matcher.service import Matcher

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
TOP = 5
BATCH = 64


@dataclass(frozen=True)
class Case:
    profile: Profile
    roles: frozenset[str]
    sectors: frozenset[str]
    partners: tuple[str, ...]

    def lacks(self) -> list[str]:
        if self.profile.kind == "project":
            return [r for r in ROLES if r in self.profile.needs]
        return [r for r in ROLES if r not in self.roles]


def load(path: Path) -> list[Case]:
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            cases.append(Case(Profile.from_data(row["kind"], row["data"]), frozenset(row["truth"]["roles"]),
                              frozenset(row["truth"]["sectors"]), tuple(row.get("partners", ()))))
    return cases


# A ranker answers: the top ids for `case`, optionally limited to those holding `role`.
Ranker = Callable[[Case, str | None], list[str]]
TriadRanker = Callable[[Case], list[tuple[str, str, str]]]


def figures(cases: Sequence[Case], rank: Ranker, triads: TriadRanker) -> dict[str, float]:
    by_id = {c.profile.id: c for c in cases}
    role_hits = []
    for case in cases:
        for role in case.lacks():
            role_hits += [role in by_id[i].roles for i in rank(case, role)[:TOP]]
    sector_scores = []
    for case in cases:
        attainable = [c for c in cases if c is not case and c.roles & set(case.lacks()) and c.sectors & case.sectors]
        if attainable:
            shared = sum(bool(by_id[i].sectors & case.sectors) for i in rank(case, None)[:TOP])
            sector_scores.append(min(shared / min(TOP, len(attainable)), 1.0))
    partner_hits = []
    for case in cases:
        for other_id in case.partners:
            roles = [r for r in by_id[other_id].roles if r in case.lacks()]
            if roles:
                partner_hits.append(any(other_id in rank(case, r)[:TOP] for r in roles))
    valid, of_attainable = [], []
    for case in cases:
        if case.profile.kind != "project":
            continue
        found = triads(case)[:3]
        hits = [all(role in m.roles for role, m in zip(ROLES, members, strict=True))
                and all(m.sectors & case.sectors for m in members)
                for members in ([by_id[i] for i in ids] for ids in found)]
        valid += hits + [False] * (3 - len(found))
        # How many valid triads the data allows at all: a role nobody in the sector plays allows none.
        per_role = [sum(1 for c in cases if r in c.roles and c.sectors & case.sectors) for r in ROLES]
        attainable = min(3, int(np.prod(per_role)))
        if attainable:
            of_attainable.append(sum(hits) / attainable)
    mean = lambda values: round(float(np.mean(values)), 3) if values else float("nan")  # noqa: E731
    return {"role accuracy": mean(role_hits), "sector precision@5": mean(sector_scores),
            "partner hit@5": mean(partner_hits), "triad validity": mean(valid),
            "triad validity of attainable": mean(of_attainable)}


def matcher_rankers(matcher: Matcher) -> tuple[Ranker, TriadRanker]:
    def rank(case: Case, role: str | None) -> list[str]:
        found = matcher.suggest(case.profile.id, roles=[role] if role else None, limit=TOP) or []
        return [s.profile.id for s in found]

    def triads(case: Case) -> list[tuple[str, str, str]]:
        return [(r["chip"]["id"], r["algorithm"]["id"], r["application"]["id"])
                for r in matcher.partnerships(project_id=case.profile.id)]

    return rank, triads


def cosine_rankers(cases: Sequence[Case], vectors: np.ndarray, *, true_roles: bool) -> tuple[Ranker, TriadRanker]:
    """Plain cosine, or cosine among those whose true roles fit: the two baselines."""
    index = {c.profile.id: n for n, c in enumerate(cases)}

    def nearest(case: Case, allowed: Callable[[Case], bool]) -> list[str]:
        order = np.argsort(-(vectors @ vectors[index[case.profile.id]]))
        return [cases[n].profile.id for n in order if cases[n] is not case and allowed(cases[n])]

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


def evaluate(path: Path, embedder: Embedder) -> dict[str, dict[str, float]]:
    cases = load(path)
    with tempfile.TemporaryDirectory() as folder:
        store = EdgeStore(Path(folder) / "store")
        matcher = Matcher(embedder=embedder, store=store)
        matcher.ensure_model()
        for start in range(0, len(cases), BATCH):
            matcher.apply([Upsert(c.profile) for c in cases[start : start + BATCH]])
        results = {"chainmatch": figures(cases, *matcher_rankers(matcher))}
        store.close()
    vectors = np.asarray(embedder.embed([c.profile.text() for c in cases]))
    results["plain cosine"] = figures(cases, *cosine_rankers(cases, vectors, true_roles=False))
    results["cosine, true roles"] = figures(cases, *cosine_rankers(cases, vectors, true_roles=True))
    return results


def table(name: str, results: dict[str, dict[str, float]]) -> str:
    metrics = list(next(iter(results.values())))
    lines = [f"| {name} | " + " | ".join(metrics) + " |", "| --- |" + " --- |" * len(metrics)]
    lines += [f"| {system} | " + " | ".join(f"{row[m]:.3f}" for m in metrics) + " |" for system, row in results.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] = ()) -> None:
    from matcher.adapters.sentence_embedder import SentenceEmbedder

    embedder = SentenceEmbedder(None, progress=lambda m: print(m, file=sys.stderr))
    for name in argv or [n for n in ("dev", "dev_real", "holdout") if (DATA / f"{n}.jsonl").exists()]:
        print(table(name, evaluate(DATA / f"{name}.jsonl", embedder)), end="\n\n", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
