"""The seeded catalogue: theme items published in batch 1, a city's worth of others."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.extensions import db
from backend.models.service_items import ServiceItem, ServiceItemVersion
from backend.services.seed import read_themes


def test_seed_demo_publishes_the_theme_items_and_a_city_catalogue_once(runner, api):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    count = db.session.scalar(select(func.count(ServiceItem.id)))
    assert count >= 200

    for theme_item in read_themes()["service_items"]:
        item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == theme_item["id"]))
        public = api.get(f"/service-items/{item.id}").get_json()
        assert public["handling_item"] == theme_item["handling_item"]
        assert public["batch"]["number"] == 1
        assert [m["name"] for m in public["materials"]] == [
            m["name"] for m in theme_item["materials"]
        ]

    states = set(db.session.scalars(select(ServiceItem.state).distinct()))
    assert states == {"draft", "submitted", "returned", "approved", "published"}
    revisions = db.session.scalar(
        select(func.count(ServiceItem.id)).where(
            ServiceItem.published_number.is_not(None), ServiceItem.state == "draft"
        )
    )
    assert revisions > 0
    batches = api.get("/publication-batches").get_json()["batches"]
    assert [b["number"] for b in batches] == [3, 2, 1]
    figures = api.get("/supervision/sharing-rate").get_json()
    assert figures["city"]["meets_target"] is True
    assert len(figures["departments"]) >= 20
    assert not all(d["meets_target"] for d in figures["departments"])

    versions = db.session.scalar(select(func.count(ServiceItemVersion.id)))
    db.session.remove()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert db.session.scalar(select(func.count(ServiceItem.id))) == count
    assert db.session.scalar(select(func.count(ServiceItemVersion.id))) == versions
