"""Whether one profile names another: "runs on Horizon's Journey chips", "與瑪麗醫院合作".

Members describe the partners they already work with, and a platform that reads "we run pilots with
Queen Mary Hospital" should not rank that hospital 12th. A profile is mentioned when its name, the
part of its name in brackets, its name without legal and generic endings, or its Chinese name appears
in the other's text, compared folded (matcher.chinese) and as whole words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from matcher import chinese

__all__ = ["name_forms", "names"]

_BRACKETS = re.compile(r"\s*[(（]([^)）]*)[)）]")
# Endings that name what kind of organisation it is, not which one.
_GENERIC_ENDINGS = frozenset(
    "inc inc. ltd ltd. limited co co. corp corp. corporation company group holdings plc ag se gmbh s.a. "
    "technology technologies tech motor motors auto automobile automotive".split()
)
_CHINESE_ENDINGS = ("股份有限公司", "有限公司", "集团", "控股", "公司", "科技", "技术", "汽车")
# Two Chinese characters name a company often enough (蔚来, 上汽, 广汽); two Latin letters do not.
_ASCII_MIN, _CJK_MIN = 3, 2
# What Chinese text calls the global companies that profiles name most, folded: members in Shenzhen
# write 英伟达 and 高通, not NVIDIA and Qualcomm, and these profiles seldom carry a `name_zh`.
GLOBAL_NAMES_ZH: Mapping[str, tuple[str, ...]] = {
    "nvidia": ("英伟达",), "qualcomm": ("高通",), "intel": ("英特尔",), "amd": ("超威",), "arm": ("安谋",),
    "microsoft": ("微软",), "microsoft azure": ("微软",), "amazon": ("亚马逊",),
    "amazon web services": ("亚马逊云",), "aws": ("亚马逊云",), "google": ("谷歌",), "google cloud": ("谷歌云",),
    "google deepmind": ("谷歌",),
    "apple": ("苹果公司",), "samsung": ("三星",), "tesla": ("特斯拉",), "oracle": ("甲骨文",),
    "mobileye": ("无比视",), "nxp": ("恩智浦",), "infineon": ("英飞凌",), "renesas": ("瑞萨",),
    "texas instruments": ("德州仪器",), "bosch": ("博世",), "continental": ("大陆集团",), "siemens": ("西门子",),
    "schneider electric": ("施耐德",), "volkswagen": ("大众汽车",), "volkswagen group": ("大众汽车",),
    "mercedes-benz": ("奔驰",), "mercedes-benz group": ("奔驰",), "bmw": ("宝马",), "bmw group": ("宝马",),
    "audi": ("奥迪",), "toyota": ("丰田",), "toyota motor corporation": ("丰田",), "honda": ("本田",),
    "nissan": ("日产",), "hyundai": ("现代汽车",), "ford": ("福特",), "ford motor company": ("福特",),
    "uber": ("优步",), "pfizer": ("辉瑞",), "roche": ("罗氏",), "sanofi": ("赛诺菲",), "astrazeneca": ("阿斯利康",),
    "novartis": ("诺华",), "gsk": ("葛兰素史克",), "bayer": ("拜耳",), "eli lilly": ("礼来",), "medtronic": ("美敦力",),
    "ge healthcare": ("通用电气医疗",), "philips": ("飞利浦",), "mayo clinic": ("梅奥诊所",),
}


def name_forms(name: str, name_zh: str | None) -> tuple[str, ...]:
    """The folded forms of a name that count as a mention of it."""
    folded = chinese.fold(name)
    forms = [_BRACKETS.sub("", folded).strip(), *(m.strip() for m in _BRACKETS.findall(folded))]
    words = forms[0].split()
    while len(words) > 1 and words[-1].strip(",") in _GENERIC_ENDINGS:
        words.pop()
    forms.append(" ".join(words).strip(","))
    forms += [zh for form in forms[:] for zh in GLOBAL_NAMES_ZH.get(form, ())]
    if name_zh:
        zh = chinese.fold(name_zh)
        bare = _BRACKETS.sub("", zh).strip()
        forms += [zh, bare, *(m.strip() for m in _BRACKETS.findall(zh))]
        for ending in _CHINESE_ENDINGS:
            if bare.endswith(ending) and len(bare) - len(ending) >= _CJK_MIN:
                forms.append(bare[: -len(ending)])
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
