"""Fixtures for the service-item tests: departments and types seeded, staff logged in."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.service_items.factories import create_supervisor, officer_of


@pytest.fixture
def staff(seeded, api):
    """An officer of the market regulator (amr), one of the police (psb), the supervisor."""
    amr = officer_of("amr")
    psb = officer_of("psb")
    supervisor = create_supervisor()
    return SimpleNamespace(
        amr=amr,
        psb=psb,
        supervisor=supervisor,
        amr_token=api.login(amr),
        psb_token=api.login(psb),
        supervisor_token=api.login(supervisor),
    )
