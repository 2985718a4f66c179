"""Whether one profile names another: "runs on Horizon's Journey chips", "與瑪麗醫院合作".

Members describe the partners they already work with, and a platform that reads "we run pilots with
Queen Mary Hospital" should not rank that hospital 12th. A profile is mentioned when its name, the
part of its name in brackets, its name without legal and generic endings, or its Chinese name appears
in the other's text, compared folded (matcher.chinese) and as whole words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from matcher import chinese

__all__ = ["name_forms", "names"]

_BRACKETS = re.compile(r"\s*[(（]([^)）]*)[)）]")
# Endings that name what kind of organisation it is, not which one.
_GENERIC_ENDINGS = frozenset(
    "inc inc. ltd ltd. limited co co. corp corp. corporation company group holdings plc ag se gmbh s.a. "
    "technology technologies tech motor motors auto automobile automotive".split()
)
_CHINESE_ENDINGS = ("股份有限公司", "有限公司", "集团", "控股", "公司", "科技", "技术", "汽车")
_ASCII_MIN, _CJK_MIN = 3, 3


def name_forms(name: str, name_zh: str | None) -> tuple[str, ...]:
    """The folded forms of a name that count as a mention of it."""
    folded = chinese.fold(name)
    forms = [_BRACKETS.sub("", folded).strip(), *(m.strip() for m in _BRACKETS.findall(folded))]
    words = forms[0].split()
    while len(words) > 1 and words[-1].strip(",") in _GENERIC_ENDINGS:
        words.pop()
    forms.append(" ".join(words).strip(","))
    if name_zh:
        zh = chinese.fold(name_zh)
        forms += [zh, _BRACKETS.sub("", zh)]
        for ending in _CHINESE_ENDINGS:
            if zh.endswith(ending) and len(zh) - len(ending) >= _CJK_MIN:
                forms.append(zh[: -len(ending)])
    kept = (f for f in forms if len(f) >= (_CJK_MIN if chinese.has_cjk(f) else _ASCII_MIN))
    return tuple(dict.fromkeys(kept))


def names(forms: Sequence[str], folded_text: str) -> bool:
    """Whether `folded_text` names the organisation of `forms`: Chinese forms anywhere, others as whole
    words (so "nio" is not found in "union")."""
    for form in forms:
        at = folded_text.find(form)
        while at >= 0:
            if chinese.has_cjk(form[0]):
                return True
            end = at + len(form)
            before = folded_text[at - 1] if at else " "
            after = folded_text[end] if end < len(folded_text) else " "
            if not (before.isalnum() or after.isalnum()):
                return True
            at = folded_text.find(form, at + 1)
    return False
