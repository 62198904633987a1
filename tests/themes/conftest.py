"""A city with the seeded catalogue, routes and bundles; a restaurant company and its
representative holding a business licence; officers of the three restaurant departments."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from backend.services.seed import run_seed
from tests.factories import create_company, create_company_representative, create_person
from tests.themes.factories import bundle_id, create_theme_admin, officer_of, restaurant_licence

STEPS = [
    "departments",
    "certificate types",
    "service items",
    "verification routes",
    "theme bundles",
]


@pytest.fixture
def city(app):
    run_seed(STEPS, echo=lambda _: None)


@pytest.fixture
def restaurant(city, api):
    company = create_company(name="杭味餐饮管理有限公司")
    representative = create_company_representative(
        company, person=create_person(name="李华"), display_name="李华"
    )
    licence = restaurant_licence(company)
    amr, health, fire = officer_of("amr"), officer_of("health"), officer_of("fire")
    return SimpleNamespace(
        company=company,
        representative=representative,
        licence=licence,
        token=api.login(representative),
        bundle_id=bundle_id("open_restaurant"),
        amr=amr,
        health=health,
        fire=fire,
        amr_token=api.login(amr),
        health_token=api.login(health),
        fire_token=api.login(fire),
    )


@pytest.fixture
def admin(city, api):
    user = create_theme_admin()
    return SimpleNamespace(user=user, token=api.login(user))
