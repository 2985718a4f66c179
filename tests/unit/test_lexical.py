from collections import Counter

from matcher.lexical import TermStats, terms


def test_terms_lowercase_and_drop_stopwords():
    assert terms("The BPU and the RISC-V cores") == Counter({"bpu": 1, "risc-v": 1, "cores": 1})


def test_bm25_rewards_shared_rare_terms_and_stays_below_one():
    stats = TermStats()
    docs = [terms(t) for t in ("colonoscopy polyp detection models", "factory AOI inspection models",
                               "AI models for hospitals", "AI models for cars")]
    for doc in docs:
        stats.add(doc)
    query = terms("a colonoscopy pilot in a hospital")
    scores = [stats.bm25(query, doc) for doc in docs]
    assert scores[0] == max(scores) and 0 < scores[0] < 1
    assert scores[1] == 0
    assert stats.distinctive_shared(query, docs[0]) == ["colonoscopy"]


def test_removing_a_document_restores_the_statistics():
    stats = TermStats()
    stats.add(terms("edge npu chips"))
    stats.add(terms("vision models"))
    stats.add(terms("vision models"), sign=-1)
    assert (stats.documents, stats.total_length) == (1, 3)
    assert stats.frequencies["vision"] == 0
