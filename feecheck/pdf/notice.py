"""The notice to correct (整改通知书, issue 14 §3) rendered from its data: the numbered notice, the
itemised refunds, the deadline, what to send back, signatures and a seal area, and the service
receipt (送达回证) on its own page."""

from __future__ import annotations

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, PageBreak, Spacer

from feecheck.pdf.documents import Inspector, NoticeDocument
from feecheck.pdf.layout import (
    build,
    cn_date,
    cn_month,
    key_values,
    markup,
    para,
    signature_block,
    styles,
    table,
    yuan,
)

WIDTH = 174 * mm
NUMERALS = "一二三四五六七八九十"
BLANK = "＿" * 6  # a line to write on


def numbered(n: int) -> str:
    """一、二、… 十、十一、 for the notice's items."""
    if n <= 10:
        return NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    return (NUMERALS[tens - 1] if tens > 1 else "") + "十" + (NUMERALS[ones - 1] if ones else "")


def we(office: str) -> str:
    """How the office names itself: 我委 (a 委员会), 我局 (a 局), else 我单位."""
    if office.endswith("委员会") or office.endswith("委"):
        return "我委"
    if office.endswith("局"):
        return "我局"
    return "我单位"


def _addressee_style() -> ParagraphStyle:
    style = styles()["notice_body"]
    style.firstLineIndent = 0
    return style


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def notice_pdf(notice: NoticeDocument) -> bytes:
    return build(
        notice_story(notice),
        title=f"整改通知书 {notice.number}",
        subject=f"{notice.office} 整改通知书 {notice.number} {notice.kindergarten_name}",
        footer=f"{notice.office} · {notice.number}",
    )


def notice_story(notice: NoticeDocument) -> list[Flowable]:
    basis = (
        f"{'、'.join(cn_date(d) for d in notice.inspection_dates)}对你园进行了现场检查，并"
        if notice.inspection_dates
        else ""
    )
    months = (
        cn_month(notice.period_from)
        if notice.period_from == notice.period_to
        else f"{cn_month(notice.period_from)}至{cn_month(notice.period_to)}"
    )
    story: list[Flowable] = [
        para(notice.office, "title"),
        para("整改通知书", "title"),
        para(notice.number, "subtitle"),
        Spacer(1, 4 * mm),
        para(
            f"{notice.kindergarten_name}（园所代码 {notice.kindergarten_code}）：",
            _addressee_style(),
        ),
        para(
            f"根据《幼儿园收费管理暂行办法》《中华人民共和国学前教育法》等规定，{we(notice.office)}"
            f"{basis}对你园"
            f"{months}的收费情况进行了检查。经查，你园存在以下违反收费管理规定的问题：",
            "notice_body",
        ),
    ]
    for n, v in enumerate(notice.violations, start=1):
        basis_text = f"违反{v.citation}" + (f"“{v.quote}”" if v.quote else "") + "的规定"
        story.append(
            markup(
                f"<b>{numbered(n)}、{_escape(v.title)}。</b>{_escape(v.message)}"
                f"{_escape(basis_text)}。",
                "notice_body",
            )
        )
    if notice.refunds:
        story += [
            Spacer(1, 2 * mm),
            para(
                "上述问题涉及向幼儿家长退还的费用如下表，应退金额合计 "
                f"{yuan(notice.refunds_due)} 元，截至本通知书下发之日已退 "
                f"{yuan(notice.refunds_due - notice.refunds_outstanding)} 元，尚未退还 "
                f"{yuan(notice.refunds_outstanding)} 元：",
                "notice_body",
            ),
            table(
                ["序号", "幼儿编号", "票据号", "涉及规则", "应退金额", "已退金额", "未退金额"],
                [
                    [
                        str(n),
                        r.child_ref,
                        r.receipt_no,
                        r.rule_id,
                        yuan(r.due),
                        yuan(r.refunded),
                        yuan(r.outstanding),
                    ]
                    for n, r in enumerate(notice.refunds, start=1)
                ]
                + [
                    [
                        "",
                        "合计",
                        "",
                        "",
                        yuan(notice.refunds_due),
                        yuan(notice.refunds_due - notice.refunds_outstanding),
                        yuan(notice.refunds_outstanding),
                    ]
                ],
                [12 * mm, 24 * mm, 30 * mm, 42 * mm, 22 * mm, 22 * mm, 22 * mm],
                numeric={0, 4, 5, 6},
                font_size=8.5,
            ),
        ]
    requirements = "".join(
        f"（{numbered(n)}）{_escape(r)}；" for n, r in enumerate(notice.requirements, start=1)
    ).rstrip("；")
    story += [
        Spacer(1, 2 * mm),
        markup(
            f"请你园自收到本通知书之日起 <b>{notice.deadline_days} 日内</b>（即 "
            f"<b>{cn_date(notice.deadline)}</b> 前）完成整改：立即停止上述违规收费行为，"
            f"将应退费用足额退还幼儿家长，并向{we(notice.office)}报送以下材料："
            f"{requirements}。",
            "notice_body",
        ),
        para(f"逾期未整改或整改不到位的，{we(notice.office)}将依法依规处理。", "notice_body"),
        para("特此通知。", "notice_body"),
        Spacer(1, 6 * mm),
        KeepTogether(
            [
                *(
                    para(
                        f"检查人员：{i.name or BLANK}　执法证号：{i.certificate or BLANK}",
                        _addressee_style(),
                    )
                    for i in _two(notice)
                ),
                Spacer(1, 2 * mm),
                signature_block(
                    ["检查人员（签名）", "检查人员（签名）"],
                    seal_lines=[notice.office, cn_date(notice.issued_on)],
                    dated=False,
                ),
            ]
        ),
        PageBreak(),
        para(notice.office, "title"),
        para("送达回证", "title"),
        Spacer(1, 4 * mm),
        key_values(
            [
                ("送达文书", f"整改通知书 {notice.number}"),
                ("受送达单位", f"{notice.kindergarten_name}（{notice.kindergarten_code}）"),
                ("送达地点", "\n"),
                ("送达方式", "□直接送达　□留置送达　□邮寄送达　□其他：＿＿＿＿"),
                ("整改期限", f"自收到之日起 {notice.deadline_days} 日内"),
                ("受送达人（签名或盖章）", "\n\n"),
                ("签收日期", "＿＿＿＿年＿＿月＿＿日"),
                ("送达人（签名）", "\n\n"),
                ("见证人（签名）", "\n\n"),
                ("备注", "\n\n\n"),
            ],
            (52 * mm, WIDTH - 52 * mm),
        ),
        Spacer(1, 4 * mm),
        para(
            "受送达单位负责人或其指定的收件人签收；拒绝签收的，送达人应在备注栏注明情况，"
            "并由见证人签名。",
            "small",
        ),
    ]
    return story


def _two(notice: NoticeDocument) -> list[Inspector]:
    """Two inspector lines: those given, then blanks to fill in by hand."""
    given = list(notice.inspectors)[:2]
    return given + [Inspector("", "")] * (2 - len(given))
