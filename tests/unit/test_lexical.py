import math
from collections import Counter

import pytest

from matcher.lexical import K1, SATURATION, B, Document, TermStats, document, terms


def test_terms_lowercase_and_drop_stopwords():
    assert terms("The BPU and the RISC-V cores") == Counter({"bpu": 1, "risc-v": 1, "cores": 1})


def test_bm25_rewards_shared_rare_terms_and_stays_below_one():
    stats = TermStats()
    docs = [terms(t) for t in ("colonoscopy polyp detection models", "factory AOI inspection models",
                               "AI models for hospitals", "AI models for cars")]
    for doc in docs:
        stats.add(doc)
    query = stats.against(terms("a colonoscopy pilot in a hospital"))
    scores = list(query.bm25([Document.of(doc) for doc in docs]))
    assert scores[0] == max(scores) and 0 < scores[0] < 1
    assert scores[1] == 0
    assert query.distinctive_shared(Document.of(docs[0])) == ["colonoscopy"]


def test_bm25_of_many_documents_is_the_textbook_formula_for_each():
    texts = ["npu chips for edge vision vision", "", "vision models", "lidar perception for cars and npu"]
    stats = TermStats()
    for text in texts:
        stats.add(terms(text))
    query = terms("edge npu vision vision")
    average = stats.total_length / stats.documents

    def textbook(document: Counter) -> float:
        raw = 0.0
        for term in query.keys() & document.keys():
            df = stats.frequencies[term]
            idf = math.log(1 + (stats.documents - df + 0.5) / (df + 0.5))
            tf = document[term]
            raw += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * sum(document.values()) / average))
        return raw / (raw + SATURATION)

    expected = [textbook(terms(text)) for text in texts]
    assert list(stats.against(query).bm25([document(text) for text in texts])) == pytest.approx(expected, rel=1e-12)
    assert list(stats.against(Counter()).bm25([document(t) for t in texts])) == [0.0] * len(texts)
    assert len(stats.against(query).bm25([])) == 0


def test_removing_a_document_restores_the_statistics():
    stats = TermStats()
    stats.add(terms("edge npu chips"))
    stats.add(terms("vision models"))
    stats.add(terms("vision models"), sign=-1)
    assert (stats.documents, stats.total_length) == (1, 3)
    assert stats.frequencies["vision"] == 0
