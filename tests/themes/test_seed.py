"""The seed step creates the four bundles of themes.json, published, once."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.extensions import db
from backend.models.themes import ThemeBundle, ThemeBundleVersion
from backend.services.seed import run_seed
from tests.themes.factories import item_id


def test_seeding_twice_leaves_the_four_published_bundles_of_the_data_file(city):
    run_seed(["theme bundles"], echo=lambda _: None)
    bundles = list(db.session.scalars(select(ThemeBundle).order_by(ThemeBundle.id)))
    assert [(b.code, b.state, b.published_number) for b in bundles] == [
        ("open_restaurant", "published", 1),
        ("newborn", "published", 1),
        ("school_enrolment", "published", 1),
        ("retirement", "published", 1),
    ]
    assert db.session.scalar(select(func.count(ThemeBundleVersion.id))) == 4
    restaurant = bundles[0].versions[0]
    assert restaurant.service_item_ids == [
        item_id("food_permit_new"),
        item_id("public_hygiene_new"),
        item_id("fire_inspection"),
    ]
    assert restaurant.form_fields[-1] == {
        "label": "经营场所",
        "source": None,
        "required": True,
        "type": "text",
    }
