"""Realistic, deterministic demo data for certificates: people, companies and field values.

Everything comes from a seeded ``random.Random`` so ``flask seed-demo`` produces the same
holders and natural keys every time (and so adds nothing the second time).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from backend.security.checksums import make_credit_code, make_id_number

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文斌宇浩凯俊婷雪琳晨欣怡嘉"
DISTRICTS = {
    "330102": "上城区",
    "330105": "拱墅区",
    "330106": "西湖区",
    "330108": "滨江区",
    "330109": "萧山区",
    "330110": "余杭区",
}
STREETS = ["文三路", "教工路", "学院路", "天目山路", "莫干山路", "江南大道", "延安路", "凤起路"]
INDUSTRIES = [
    ("餐饮管理", "餐饮服务;食品销售"),
    ("商贸", "日用百货、五金交电销售"),
    ("科技", "软件开发;信息技术咨询服务"),
    ("建筑工程", "房屋建筑工程施工"),
    ("医药", "药品零售;医疗器械销售"),
    ("物流", "道路货物运输;仓储服务"),
    ("文化传媒", "出版物零售;广告设计"),
    ("环保科技", "污水处理及其再生利用"),
    ("教育咨询", "教育咨询服务"),
    ("人力资源", "人力资源服务;劳务派遣"),
]
BRANDS = ["杭", "钱塘", "西湖", "之江", "湖畔", "云栖", "良渚", "运河", "天堂", "东方"]

# Field name → choices (or a callable of the generator), beyond what the field type implies.
CHOICES: dict[str, list[str]] = {
    "民族": ["汉"] * 18 + ["回", "满", "畲"],
    "国籍": ["中国"],
    "准驾车型": ["C1", "C1", "C1", "C2", "B2", "A1"],
    "与户主关系": ["户主", "配偶", "子", "女"],
    "车辆类型": ["小型轿车", "小型普通客车", "小型越野客车"],
    "品牌型号": ["大众牌SVW7151", "比亚迪牌BYD7005BEV", "吉利牌JL7152"],
    "共有情况": ["单独所有", "共同共有"],
    "权利类型": ["国有建设用地使用权/房屋所有权"],
    "用途": ["住宅", "城镇住宅用地/住宅"],
    "查询结果": ["未发现有犯罪记录"],
    "参保险种": ["企业职工基本养老保险、失业保险、工伤保险"],
    "缴存状态": ["正常缴存"],
    "婚姻登记记录": ["无婚姻登记记录", "有结婚登记记录"],
    "资格种类": ["初级中学教师资格", "小学教师资格", "高级中学教师资格"],
    "任教学科": ["语文", "数学", "英语", "物理"],
    "执业类别": ["临床", "中医", "口腔"],
    "执业范围": ["内科专业", "外科专业", "儿科专业"],
    "语种": ["普通话", "英语", "日语"],
    "作业类别": ["电工作业", "焊接与热切割作业", "高处作业"],
    "准操项目": ["低压电工作业", "熔化焊接与热切割作业", "登高架设作业"],
    "职业名称": ["电工", "育婴员", "中式烹调师", "保育员"],
    "等级": ["五级/初级工", "四级/中级工", "三级/高级工"],
    "类别": ["退役军人", "其他优抚对象"],
    "残疾类别": ["肢体残疾", "视力残疾", "听力残疾"],
    "残疾等级": ["一级", "二级", "三级", "四级"],
    "学校": ["浙江大学", "浙江工业大学", "杭州师范大学", "浙江工商大学"],
    "专业": ["计算机科学与技术", "会计学", "临床医学", "汉语言文学"],
    "层次": ["本科", "专科", "硕士研究生"],
    "类型": ["有限责任公司(自然人投资或控股)", "有限责任公司(自然人独资)"],
    "主体业态": ["餐饮服务经营者", "食品销售经营者"],
    "经营项目": ["热食类食品制售", "预包装食品(含冷藏冷冻食品)销售"],
    "食品类别": ["糕点", "饮料", "方便食品"],
    "许可项目": ["住宿业", "沐浴场所", "美容美发场所"],
    "资质类别及等级": ["建筑工程施工总承包三级", "市政公用工程施工总承包三级"],
    "许可范围": ["建筑施工", "危险化学品经营"],
    "行业类别": ["纺织业", "金属制品业", "食品制造业"],
    "学校类型": ["民办培训学校", "民办幼儿园"],
    "办学内容": ["文化教育类培训", "学前教育"],
    "诊疗科目": ["内科;外科;口腔科", "中医科;康复医学科"],
    "服务范围": ["人力资源供求信息的收集和发布、就业和创业指导"],
    "设备种类": ["电梯", "压力容器", "场(厂)内专用机动车辆"],
    "评价年度": ["2023", "2024"],
    "信用级别": ["A", "A", "B", "M"],
    "执业机构": ["浙江之江律师事务所", "浙江湖畔律师事务所"],
    "签发机关": ["市公安局西湖分局", "市公安局上城分局", "市公安局拱墅分局"],
}


@dataclass
class DemoPerson:
    name: str
    id_number: str
    born: date
    male: bool
    address: str


@dataclass
class DemoCompany:
    name: str
    credit_code: str
    representative: str
    address: str
    scope: str


class DemoData:
    """A deterministic generator of holders and field values."""

    def __init__(self, seed: int = 20260101) -> None:
        self.rng = random.Random(seed)

    def name(self) -> str:
        given = "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(SURNAMES) + given

    def address(self) -> str:
        rng = self.rng
        district = DISTRICTS[rng.choice(list(DISTRICTS))]
        number, block, room = rng.randint(1, 399), rng.randint(1, 30), rng.randint(101, 2408)
        return f"浙江省杭州市{district}{rng.choice(STREETS)}{number}号{block}幢{room}室"

    def person(self, used: set[str]) -> DemoPerson:
        while True:
            region = self.rng.choice(list(DISTRICTS))
            born = date(1950, 1, 1) + timedelta(days=self.rng.randint(0, 55 * 365))
            id_number = make_id_number(region, born, self.rng.randint(0, 999))
            if id_number not in used:
                used.add(id_number)
                male = int(id_number[16]) % 2 == 1
                return DemoPerson(self.name(), id_number, born, male, self.address())

    def company(self, serial: int) -> DemoCompany:
        trade, scope = self.rng.choice(INDUSTRIES)
        brand = self.rng.choice(BRANDS) + self.rng.choice(GIVEN)
        return DemoCompany(
            name=f"杭州{brand}{trade}有限公司",
            credit_code=make_credit_code(self.rng.choice(list(DISTRICTS)), 70000000 + serial),
            representative=self.name(),
            address=self.address(),
            scope=scope,
        )

    def number(self, name: str) -> int | float:
        ranges = {
            "累计缴费月数": (1, 420),
            "保障人数": (1, 5),
            "月保障金额": (800, 3000),
            "月缴存额": (300, 6000),
            "已缴税额": (0, 60000),
            "面积": (40, 220),
        }
        low, high = ranges.get(name, (1, 1000))
        return self.rng.randint(low, high)

    def code(self, prefix: str = "") -> str:
        return f"{prefix}{self.rng.randint(10**9, 10**10 - 1)}"

    def fields(
        self,
        specs: list[dict],
        holder: DemoPerson | DemoCompany,
        issued_on: date,
        expires_on: date | None,
    ) -> dict[str, Any]:
        """Plausible values for every field of a type, consistent with the holder."""
        out: dict[str, Any] = {}
        person = holder if isinstance(holder, DemoPerson) else None
        for spec in specs:
            name, kind = spec["name"], spec["type"]
            out[name] = self._value(name, kind, spec, holder, person, issued_on, expires_on)
        if person is not None and "男方姓名" in out:
            side, other = ("男方", "女方") if person.male else ("女方", "男方")
            out[f"{side}姓名"], out[f"{side}公民身份号码"] = person.name, person.id_number
            spouse = self.person(set())
            out[f"{other}姓名"], out[f"{other}公民身份号码"] = spouse.name, spouse.id_number
        return out

    def _value(self, name, kind, spec, holder, person, issued_on, expires_on) -> Any:
        rng = self.rng
        if kind == "id_number":
            if name == "公民身份号码" and person is not None:
                return person.id_number
            return self.person(set()).id_number
        if kind == "credit_code":
            return holder.credit_code if isinstance(holder, DemoCompany) else self.code()
        if kind == "enum":
            if name == "性别" and person is not None:
                return "男" if person.male else "女"
            return rng.choice(spec["options"])
        if kind == "number":
            return self.number(name)
        if kind == "date":
            if name in ("出生日期", "出生时间") and person is not None:
                return person.born.isoformat()
            if name == "有效期至" and expires_on is not None:
                return expires_on.isoformat()
            return issued_on.isoformat()
        return self._text(name, holder, person, issued_on, expires_on)[: spec.get("max_length")]

    def _text(self, name, holder, person, issued_on, expires_on) -> str:
        rng = self.rng
        if name in CHOICES:
            return rng.choice(CHOICES[name])
        if person is not None and (
            name in ("姓名", "持证人", "权利人", "所有人", "户主姓名", "儿童姓名", "新生儿姓名")
            or name.endswith("人姓名")
        ):
            return person.name
        if isinstance(holder, DemoCompany):
            if name.endswith("名称") or name in ("使用单位", "建设单位"):
                return holder.name
            if name in ("法定代表人", "负责人", "主要负责人"):
                return holder.representative
            if name == "经营范围":
                return holder.scope
        if "姓名" in name:
            return self.name()
        if any(word in name for word in ("住址", "地址", "住所", "场所", "地点", "坐落", "位置")):
            return person.address if person is not None else self.address()
        if name == "有效期限":
            end = expires_on.isoformat() if expires_on else "长期"
            return f"{issued_on.isoformat()}至{end}"
        if name in ("缴费起止年月", "所属期间"):
            return f"{issued_on.year - 1}-01至{issued_on.year - 1}-12"
        if name == "注册资本":
            return f"{rng.choice((10, 50, 100, 200, 500))}万元人民币"
        if name in ("合同价格",):
            return f"{rng.randint(100, 5000)}万元"
        if name in ("取水量",):
            return f"{rng.randint(1, 50)}万立方米/年"
        if name in ("建设规模",):
            return f"{rng.randint(2000, 80000)}平方米"
        if name in ("使用期限",):
            return f"{issued_on.year}年至{issued_on.year + 70}年"
        if name in ("接种记录",):
            return "乙肝疫苗3剂次;卡介苗1剂次;脊灰疫苗4剂次"
        if name in ("建设项目名称", "工程名称"):
            return f"{rng.choice(BRANDS)}{rng.choice(('花园', '商务中心', '产业园'))}项目"
        if name in ("施工单位",):
            return f"浙江{rng.choice(BRANDS)}建设集团有限公司"
        if name in ("单位名称",):
            return f"杭州{rng.choice(BRANDS)}{rng.choice(('科技', '商贸'))}有限公司"
        if name in ("号牌号码",):
            return f"浙A{rng.choice('BCDFGHK')}{rng.randint(1000, 9999)}"
        if name == "户号":
            return f"{rng.randint(10**8, 10**9 - 1)}"
        return self.code()
