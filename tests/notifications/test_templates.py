"""WeChat field limits are respected by fitting every value safely; categories map to templates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from notifications.templates import (
    FIELD_LIMITS,
    Message,
    fit,
    render_sms,
    render_wechat,
    template_for,
    truncate,
)


def message(**kwargs) -> Message:
    values = {
        "notification_id": 7,
        "user_id": 1,
        "category": "general",
        "title": "标题",
        "body": "内容",
        "link": None,
        "created_at": datetime(2026, 5, 4, 1, 30, tzinfo=UTC),
        "data": {},
    }
    values.update(kwargs)
    return Message(**values)


def test_a_long_thing_is_cut_to_twenty_characters_with_an_ellipsis():
    value = fit("thing1", "关于做好二〇二六年度食品经营许可证延续换发工作的通知")
    assert len(value) == FIELD_LIMITS["thing"] == 20
    assert value == "关于做好二〇二六年度食品经营许可证延续…"
    assert fit("thing2", "短") == "短"


def test_truncation_never_separates_a_character_from_its_combining_mark():
    text = "a" * 18 + "e\u0301" + "xyz"  # é written as e + combining acute accent
    cut = truncate(text, 20)
    assert len(cut) <= 20 and not cut.endswith("e…")
    assert cut == "a" * 18 + "…"
    emoji = "😀" * 18 + "👨\u200d👩\u200d👧"
    assert "\u200d…" not in truncate(emoji, 20)


def test_newlines_and_empty_values_are_made_acceptable():
    assert fit("thing1", "第一行\n第二行") == "第一行 第二行"
    assert fit("thing1", "") == "无"
    assert fit("thing1", None) == "无"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("phrase2", "已通过审核", "已通过审核"),
        ("phrase2", "approved 已通过审核并归档", "已通过审核"),
        ("character_string3", "PSB-001-2026-0000042-K 证照", "PSB-001-2026-0000042-K"),
        ("number4", "共 12 件", "12"),
        ("time5", datetime(2026, 5, 4, 1, 30, tzinfo=UTC), "2026年5月4日 09:30"),
        ("date6", date(2026, 6, 3), "2026年6月3日"),
        ("date6", "2026-06-03", "2026年6月3日"),
        ("name7", "欧阳娜娜娜娜娜娜娜娜娜娜", "欧阳娜娜娜娜娜娜娜…"),
    ],
)
def test_each_field_type_is_fitted_to_its_rules(key, value, expected):
    result = fit(key, value)
    assert result == expected
    assert len(result) <= FIELD_LIMITS[key.rstrip("0123456789")]


def test_an_unknown_field_type_is_a_programming_error():
    with pytest.raises(ValueError):
        fit("colour1", "red")


def test_categories_without_a_template_use_the_general_one(app):
    assert template_for("something_new").category == "general"
    data = render_wechat(template_for("general").wechat, message(title="x" * 30))
    assert data["thing1"]["value"] == "x" * 19 + "…"
    assert data["time3"] == {"value": "2026年5月4日 09:30"}


def test_an_sms_carries_the_signature_and_stays_short():
    text = render_sms(message(title="到期提醒", body="内" * 500))
    assert text.startswith("【无证明城市】到期提醒:") and len(text) == 200
