"""The words the demo trial writes: hospitals and cities, drugs, adverse-event terms (Chinese
verbatim with their MedDRA terms), deviations, and the column layout of each form."""

from __future__ import annotations

import re

# Real head-and-neck centres (name, city); the lead site first. Two names carry a comma and
# quotes on purpose, to exercise RFC 4180 quoting in the readers.
_HOSPITALS = [
    ("上海交通大学医学院附属第九人民医院", "上海"),
    ("中山大学附属肿瘤医院", "广州"),
    ("四川大学华西口腔医院", "成都"),
    ("北京大学口腔医院", "北京"),
    ("复旦大学附属肿瘤医院", "上海"),
    ("中国医学科学院肿瘤医院", "北京"),
    ("武汉大学口腔医院", "武汉"),
    ("南京大学医学院附属口腔医院, 南京市口腔医院", "南京"),
    ("中南大学湘雅医院", "长沙"),
    ('浙江大学医学院附属第一医院 ("浙大一院")', "杭州"),
    ("山东大学齐鲁医院", "济南"),
    ("空军军医大学第三附属医院", "西安"),
    ("天津医科大学肿瘤医院", "天津"),
    ("哈尔滨医科大学附属肿瘤医院", "哈尔滨"),
    ("郑州大学第一附属医院", "郑州"),
    ("福建医科大学附属协和医院", "福州"),
    ("重庆医科大学附属口腔医院", "重庆"),
    ("吉林大学口腔医院", "长春"),
    ("广西医科大学附属肿瘤医院", "南宁"),
    ("昆明医科大学第一附属医院", "昆明"),
]


_CITIES = [
    "苏州",
    "无锡",
    "宁波",
    "温州",
    "合肥",
    "南昌",
    "厦门",
    "青岛",
    "大连",
    "沈阳",
    "石家庄",
    "太原",
    "兰州",
    "贵阳",
    "海口",
    "乌鲁木齐",
    "呼和浩特",
    "银川",
    "西宁",
    "徐州",
    "常州",
    "洛阳",
    "烟台",
    "潍坊",
    "佛山",
    "东莞",
    "深圳",
    "珠海",
    "汕头",
    "桂林",
    "柳州",
    "绵阳",
    "宜昌",
    "襄阳",
    "株洲",
    "赣州",
    "泉州",
    "扬州",
    "南通",
    "嘉兴",
    "绍兴",
    "台州",
    "金华",
    "唐山",
    "保定",
    "邯郸",
    "包头",
    "鞍山",
    "大庆",
    "淄博",
    "济宁",
    "临沂",
    "芜湖",
    "蚌埠",
    "遵义",
    "曲靖",
    "南充",
    "泸州",
    "十堰",
    "岳阳",
    "常德",
    "九江",
]


_SUFFIXES = [
    "市第一人民医院",
    "市第二人民医院",
    "市人民医院",
    "市中心医院",
    "市肿瘤医院",
    "市口腔医院",
    "市中医医院",
    "市第三人民医院",
]


# (EXTRT, EXCLASS, weight)
_DRUGS = [
    ("TORIPALIMAB", "ANTI-PD-1", 0.27),
    ("CAMRELIZUMAB", "ANTI-PD-1", 0.22),
    ("TISLELIZUMAB", "ANTI-PD-1", 0.16),
    ("PEMBROLIZUMAB", "ANTI-PD-1", 0.14),
    ("SINTILIMAB", "ANTI-PD-1", 0.08),
    ("CADONILIMAB", "BISPECIFIC-PD-1", 0.10),
    ("IVONESCIMAB", "BISPECIFIC-PD-1", 0.03),
]


# (AETERM, AEDECOD, AESOC, grade weights 1..4, (min, max) days to resolution, P(chronic), weight)
_AE_IMMUNE = [
    ("甲状腺功能减退", "Hypothyroidism", "Endocrine disorders", (30, 62, 8, 0), (60, 240), 0.6, 16),
    ("免疫性甲状腺炎", "Autoimmune thyroiditis", "Endocrine disorders", (40, 52, 8, 0), (30, 120), 0.3, 7),
    ("甲状腺功能亢进", "Hyperthyroidism", "Endocrine disorders", (60, 36, 4, 0), (20, 90), 0.1, 5),
    ("皮疹", "Rash", "Skin and subcutaneous tissue disorders", (55, 33, 11, 1), (7, 40), 0.0, 14),
    ("瘙痒", "Pruritus", "Skin and subcutaneous tissue disorders", (70, 27, 3, 0), (7, 30), 0.0, 10),
    (
        "免疫相关性肺炎",
        "Pneumonitis",
        "Respiratory, thoracic and mediastinal disorders",
        (20, 45, 28, 7),
        (21, 80),
        0.1,
        4,
    ),
    ("丙氨酸氨基转移酶升高", "Alanine aminotransferase increased", "Investigations", (60, 25, 12, 3), (7, 40), 0.0, 9),
    ("免疫相关性肝炎", "Immune-mediated hepatitis", "Hepatobiliary disorders", (10, 40, 40, 10), (20, 60), 0.0, 2),
    ("免疫相关性结肠炎", "Colitis", "Gastrointestinal disorders", (25, 45, 27, 3), (10, 45), 0.0, 3),
    ("肾上腺皮质功能减退", "Adrenal insufficiency", "Endocrine disorders", (15, 60, 25, 0), (60, 200), 0.7, 2),
    ("免疫性心肌炎", "Immune-mediated myocarditis", "Cardiac disorders", (0, 20, 50, 30), (20, 60), 0.1, 0.5),
]


_AE_GENERAL = [  # during neoadjuvant therapy, not immune-related; (..., needs chemotherapy)
    ("乏力", "Fatigue", "General disorders and administration site conditions", (70, 27, 3, 0), (5, 30), 0.0, 12),
    ("恶心", "Nausea", "Gastrointestinal disorders", (70, 27, 3, 0), (2, 10), 0.0, 8),
    ("中性粒细胞计数降低", "Neutrophil count decreased", "Investigations", (30, 40, 25, 5), (5, 14), 0.0, 9),
    ("贫血", "Anaemia", "Blood and lymphatic system disorders", (50, 40, 10, 0), (20, 60), 0.0, 6),
    ("脱发", "Alopecia", "Skin and subcutaneous tissue disorders", (70, 30, 0, 0), (60, 150), 0.0, 4),
]


_CHEMO_ONLY = {"中性粒细胞计数降低", "贫血", "脱发"}


# surgical complications: (AETERM, AEDECOD, AESOC, Clavien-Dindo weights I..IVB, days to resolution,
# P(chronic), weight, only after a flap)
_AE_SURGICAL = [
    ("伤口感染", "Wound infection", "Infections and infestations", (25, 55, 15, 5, 0, 0), (7, 30), 0.0, 20, False),
    (
        "皮瓣坏死",
        "Flap necrosis",
        "Injury, poisoning and procedural complications",
        (5, 15, 15, 60, 5, 0),
        (14, 45),
        0.0,
        6,
        True,
    ),
    ("咽瘘", "Pharyngeal fistula", "Gastrointestinal disorders", (5, 45, 25, 25, 0, 0), (14, 60), 0.0, 5, False),
    (
        "术后出血",
        "Post procedural haemorrhage",
        "Injury, poisoning and procedural complications",
        (10, 20, 10, 55, 5, 0),
        (2, 10),
        0.0,
        5,
        False,
    ),
    ("肺部感染", "Pneumonia", "Infections and infestations", (0, 65, 10, 0, 18, 7), (7, 28), 0.0, 9, False),
    (
        "切口裂开",
        "Wound dehiscence",
        "Injury, poisoning and procedural complications",
        (30, 40, 20, 10, 0, 0),
        (7, 30),
        0.0,
        6,
        False,
    ),
    (
        "颈部血肿",
        "Post procedural haematoma",
        "Injury, poisoning and procedural complications",
        (40, 25, 10, 25, 0, 0),
        (3, 14),
        0.0,
        4,
        False,
    ),
    ("乳糜漏", "Lymphorrhoea", "Vascular disorders", (20, 60, 10, 10, 0, 0), (7, 30), 0.0, 4, False),
    ("吞咽困难", "Dysphagia", "Gastrointestinal disorders", (50, 50, 0, 0, 0, 0), (14, 90), 0.2, 12, False),
    ("术后谵妄", "Delirium", "Psychiatric disorders", (55, 45, 0, 0, 0, 0), (2, 7), 0.0, 5, False),
    ("下肢深静脉血栓", "Deep vein thrombosis", "Vascular disorders", (0, 85, 15, 0, 0, 0), (30, 90), 0.0, 2, False),
]


_CLAVIEN = ["I", "II", "IIIA", "IIIB", "IVA", "IVB"]


_CLAVIEN_GRADE = {"I": 1, "II": 2, "IIIA": 3, "IIIB": 3, "IVA": 4, "IVB": 4, "V": 5}


_FATAL_SURGICAL = [
    ("术后大出血", "Post procedural haemorrhage", "Injury, poisoning and procedural complications"),
    ("重症肺部感染", "Pneumonia", "Infections and infestations"),
    ("术后急性心肌梗死", "Acute myocardial infarction", "Cardiac disorders"),
]


_AE_RT = [  # (..., P(chronic), probability per irradiated subject)
    (
        "放射性口腔黏膜炎",
        "Mucosal inflammation",
        "General disorders and administration site conditions",
        (25, 45, 28, 2),
        (20, 50),
        0.0,
        0.55,
    ),
    (
        "放射性皮炎",
        "Radiation skin injury",
        "Injury, poisoning and procedural complications",
        (45, 42, 13, 0),
        (14, 40),
        0.0,
        0.40,
    ),
    ("口干", "Dry mouth", "Gastrointestinal disorders", (60, 38, 2, 0), (60, 300), 0.5, 0.30),
]


# (DVCAT, DVSEV, DVTERM, anchor) anchor: "consent", "post" (after randomization), "baseline"
_DV_RANDOM = [
    ("PROCEDURE", "MINOR", "未按方案完成术前增强MRI", "baseline", 5),
    ("PROCEDURE", "MINOR", "生活质量问卷漏填", "post", 6),
    ("PROCEDURE", "MINOR", "Biomarker blood sample not collected", "post", 5),
    ("PROCEDURE", "MAJOR", "术后病理切缘未按方案评估", "post", 1),
    ("VISIT WINDOW", "MINOR", "实验室检查超出访视窗", "post", 6),
    ("VISIT WINDOW", "MINOR", "Imaging at follow-up outside window", "post", 3),
    ("INFORMED CONSENT", "MAJOR", "知情同意书版本错误，已重新签署", "consent", 2),
    ("INFORMED CONSENT", "MINOR", "Consent form re-signed, version 2.1", "consent", 2),
    ("INFORMED CONSENT", "MINOR", "知情同意书未填写签署时间", "consent", 2),
    ("TREATMENT", "MINOR", "辅助放疗剂量调整未记录原因", "post", 2),
    ("TREATMENT", "MINOR", "Concomitant medication not recorded", "post", 2),
    ("OTHER", "MINOR", "标本运输延迟", "post", 3),
    ("OTHER", "MINOR", "Source document missing investigator signature", "post", 2),
]


_MONTH_VISIT = re.compile(r"^M([0-9]+)$")


# The cells of the generator's row tuples, per form. The files are written in the spec's column
# order (plus ENTDTC where stamped), whatever the order here.
_LAYOUT = {
    "EXPORT": ["EXPORTDTC", "CUTOFFDAT", "SOURCE", "SPECVER"],
    "SITES": ["SITEID", "SITENAME", "CITY", "COUNTRY", "ACTDAT", "TARGETN", "STATUS"],
    "SCREENING": ["SCRNID", "SITEID", "SCRNDAT", "AGE", "SEX", "SCRNOUT", "SFREAS", "SUBJID"],
    "DM": ["SUBJID", "SITEID", "BRTHDAT", "SEX", "RFICDAT", "ENTDTC"],
    "IE": ["SUBJID", "SITEID", "IETESTCD", "IEORRES"],
    "DX": ["SUBJID", "SITEID", "DXDAT", "PRIMSITE", "HISTOL", "P16", "CT", "CN", "CM", "STAGE", "RECUR", "PRIORTX"],
    "BL": ["SUBJID", "SITEID", "BLDAT", "ECOG", "CARDIAC6M", "PREGNANT", "OTHMAL5Y", "SMOKING"],
    "EX": ["SUBJID", "SITEID", "EXCYCLE", "EXSTDAT", "EXTRT", "EXCLASS", "EXCHEMO"],
    "RS": ["SUBJID", "SITEID", "RSDAT", "RSORRES"],
    "RAND": ["SUBJID", "SITEID", "RANDDAT", "RANDNO", "ARM", "STRATRESP", "STRATSITE", "ENTDTC"],
    "PR": ["SUBJID", "SITEID", "PRDAT", "PRTRT", "PRPRIM", "MANDPRES", "FLAP", "GLOSSEXT", "NECKDIS", "ENTDTC"],
    "PATH": ["SUBJID", "SITEID", "PATHDAT", "PCR", "MARGIN", "ENE", "PNPOS", "ENTDTC"],
    "ADJ": ["SUBJID", "SITEID", "ADJTYPE", "ADJSTDAT", "ADJENDAT", "RTDOSE"],
    "AE": [
        "SUBJID",
        "SITEID",
        "AESPID",
        "AETERM",
        "AEDECOD",
        "AESOC",
        "AESTDAT",
        "AEENDAT",
        "AETOXGR",
        "AESER",
        "AEREL",
        "AEIMMUNE",
        "AECLAV",
        "AEOUT",
        "ENTDTC",
    ],
    "FU": ["SUBJID", "SITEID", "VISIT", "VISDAT", "SSSTAT", "ENTDTC"],
    "RECUR": ["SUBJID", "SITEID", "RECDAT", "RECTYPE"],
    "DD": ["SUBJID", "SITEID", "DTHDAT", "DTHCAUS"],
    "DS": ["SUBJID", "SITEID", "DSDECOD", "DSSTDAT"],
    "DV": ["SUBJID", "SITEID", "DVSPID", "DVSTDAT", "DVCAT", "DVTERM", "DVSEV", "ENTDTC"],
    "QS": ["SUBJID", "SITEID", "VISIT", "QSDAT", "QSCAT", "QSTESTCD", "QSSTRESN"],
}
