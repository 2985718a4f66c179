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

__all__ = ["CJK", "GLOSSARY", "fold", "has_cjk", "words"]

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Function words and the boilerplate of self-descriptions: as common as "the" and "we" in English.
STOPWORDS = frozenset(
    "我们 我司 公司 以及 一个 进行 提供 通过 可以 主要 其中 包括 已经 相关 为了 并且 同时 不同 之一 方面 "
    "目前 其他 他们 这些 那些 此外 能够 多个 一家 成立 位于 总部".split()
)


# The industry's words in English, for the Chinese ones (folded) that say the same: a Shenzhen chip
# maker writing 自动驾驶芯片 and a carmaker writing "autonomous driving chip" share terms for BM25.
GLOSSARY: dict[str, tuple[str, ...]] = {
    "芯片": ("chip", "chips"), "处理器": ("processor",), "半导体": ("semiconductor",), "加速卡": ("accelerator",),
    "服务器": ("servers",), "算力": ("compute",), "智算": ("compute",), "超算": ("supercomputing",),
    "数据中心": ("data", "centre"), "集群": ("cluster",), "云端": ("cloud",), "云计算": ("cloud",), "边缘": ("edge",),
    "模型": ("models",), "大模型": ("large", "models"), "算法": ("algorithms",), "软件": ("software",),
    "平台": ("platform",), "视觉": ("vision",), "图像": ("imaging",), "影像": ("imaging",), "医学": ("medical",),
    "医疗": ("medical",), "医院": ("hospital",), "临床": ("clinical",), "诊断": ("diagnosis",),
    "筛查": ("screening",), "放射科": ("radiology",), "病理": ("pathology",), "肿瘤": ("cancer",),
    "心血管": ("cardiovascular",), "超声": ("ultrasound",), "内镜": ("endoscopy",), "内窥镜": ("endoscopy",),
    "手术": ("surgery",), "眼科": ("ophthalmology",), "机器人": ("robotics",), "药物": ("drug",),
    "分子": ("molecules",), "靶点": ("targets",), "蛋白": ("protein",), "蛋白质": ("protein",),
    "基因": ("genomics",), "基因组": ("genomics",), "制药": ("pharmaceutical",), "药企": ("pharmaceutical",),
    "驾驶": ("driving",), "自动驾驶": ("autonomous", "driving"), "无人驾驶": ("driverless",),
    "智驾": ("adas",), "座舱": ("cockpit",), "激光雷达": ("lidar",), "汽车": ("vehicles",),
    "车辆": ("vehicles",), "电动汽车": ("electric", "vehicles"), "电动车": ("electric", "vehicles"),
    "车企": ("carmakers",), "量产": ("production",), "出租车": ("robotaxi",), "工厂": ("factory",),
    "制造": ("manufacturing",), "产线": ("production", "lines"), "生产线": ("production", "lines"),
    "质检": ("inspection",), "检测": ("detection",), "缺陷": ("defect",), "工业": ("industrial",),
    "自动化": ("automation",), "物流": ("logistics",), "仓储": ("warehouse",), "城市": ("city",),
    "交通": ("traffic",), "政府": ("government",), "地铁": ("metro",), "机场": ("airport",), "港口": ("port",),
    "视频": ("video",), "摄像头": ("cameras",), "人脸识别": ("face", "recognition"), "语音": ("speech",),
    "识别": ("recognition",), "训练": ("training",), "推理": ("inference",), "深度学习": ("deep", "learning"),
    "人工智能": ("ai",), "数据": ("data",), "试点": ("pilot",), "测试": ("testing",), "实验室": ("lab",),
    "大学": ("university",), "电池": ("battery",), "传感器": ("sensors",), "操作系统": ("operating", "system"),
}


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
    """The Chinese words of a folded text, in order, each followed by its English ones from GLOSSARY:
    single characters and stopwords left out."""
    cut = _segmenter().lcut
    found = []
    for run in CJK.findall(folded):
        for word in cut(run, HMM=True):
            if len(word) > 1 and word not in STOPWORDS:
                found += [word, *GLOSSARY.get(word, ())]
    return found
