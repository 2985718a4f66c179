"""Chinese text for every place where words matter: one written form, and words instead of characters.

Members in Hong Kong, Macau and Taiwan write Traditional Chinese, the Mainland Simplified, with regional
terms for the same thing (晶片 and 芯片 for "chip", 軟體 and 软件 for "software"). `fold` maps all of
them to Simplified with Mainland phrasing (OpenCC's tw2sp), so a word counts the same whoever wrote
it; `words` segments Chinese runs into words with jieba, since Chinese has no spaces to split on.
"""

from __future__ import annotations

import functools
import logging
import re

__all__ = ["CJK", "fold", "has_cjk", "words"]

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Function words and the boilerplate of self-descriptions: as common as "the" and "we" in English.
STOPWORDS = frozenset(
    "我们 我司 公司 以及 一个 进行 提供 通过 可以 主要 其中 包括 已经 相关 为了 并且 同时 不同 之一 方面 "
    "目前 其他 他们 这些 那些 此外 能够 多个 一家 成立 位于 总部".split()
)


def has_cjk(text: str) -> bool:
    return CJK.search(text) is not None


@functools.cache
def _converter():
    import opencc  # here: only a text with Chinese in it needs the converter

    return opencc.OpenCC("tw2sp")


@functools.cache
def _segmenter():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading at INFO on every start
    jieba.initialize()
    return jieba


def fold(text: str) -> str:
    """Lower case, Traditional and Simplified Chinese as one form; text without Chinese as it is."""
    lowered = text.lower()
    return _converter().convert(lowered) if has_cjk(lowered) else lowered


def words(folded: str) -> list[str]:
    """The Chinese words of a folded text, in order: single characters and stopwords left out."""
    cut = _segmenter().lcut
    return [w for run in CJK.findall(folded) for w in cut(run, HMM=True) if len(w) > 1 and w not in STOPWORDS]
