"""Seed the theme bundles of themes.json, published, keyed by their ``code`` (idempotent)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from backend import clock
from backend.extensions import db
from backend.models.service_items import ServiceItem
from backend.models.themes import ThemeBundle
from backend.services.themes import add_version, check_definition

SEED_FILE = Path(__file__).resolve().parent.parent / "seed_data" / "themes.json"
ICONS = {
    "open_restaurant": "shop",
    "newborn": "baby",
    "school_enrolment": "school",
    "retirement": "pension",
}


def seed_theme_bundles() -> None:
    """The seed step: runs after the service items it refers to."""
    data = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    existing = set(
        db.session.scalars(select(ThemeBundle.code).where(ThemeBundle.code.is_not(None)))
    )
    codes = [code for theme in data["themes"] for code in theme["items"]]
    items = {
        i.code: i.id
        for i in db.session.scalars(select(ServiceItem).where(ServiceItem.code.in_(codes)))
    }
    for theme in data["themes"]:
        if theme["id"] in existing:
            continue
        definition = check_definition(
            {
                "title": theme["title"],
                "summary": theme["summary"],
                "icon": ICONS.get(theme["id"], ""),
                "service_item_ids": [items[code] for code in theme["items"]],
                "form_fields": [
                    {"label": f["label"], "source": f["from"], "required": True, "type": "text"}
                    for f in theme["form_fields"]
                ],
            }
        )
        bundle = ThemeBundle(code=theme["id"], state="published")
        db.session.add(bundle)
        add_version(bundle, definition, None)
        bundle.published_number = bundle.latest_number
        bundle.published_at = clock.now()
    db.session.flush()
