"""The sharing rate on a known data set: only published versions count."""

from __future__ import annotations

from tests.service_items.factories import create_item, material, revise


def _exempt(name: str, basis: str) -> dict:
    if basis == "certificate":
        return material(name, certificate_type="id_card", exemption_basis="certificate")
    if basis == "verification_request":
        return material(name, issuing_department="市卫生健康委员会", exemption_basis=basis)
    return material(name, exemption_basis=basis)


def test_the_sharing_rate_is_exempt_by_certificate_or_verification_over_all_materials(api, seeded):
    # amr: 2 shared of 6 (commitment does not count) → 33.3 %, meets 30 %.
    create_item(
        "amr",
        "published",
        materials=[
            _exempt("甲", "certificate"),
            _exempt("乙", "verification_request"),
            _exempt("丙", "commitment"),
            material("丁"),
        ],
    )
    create_item("amr", "published", materials=[material("戊"), material("己")])
    # psb: 1 shared of 4, plus the 1 material of the revised item below → 20 %, misses.
    create_item(
        "psb",
        "published",
        materials=[_exempt("甲", "certificate"), material("乙"), material("丙"), material("丁")],
    )
    # Not counted: an unpublished item, and the revision of a published one.
    create_item("psb", "approved", materials=[_exempt("甲", "certificate")])
    revised = create_item("psb", "published", materials=[material("甲")])
    revise(revised)  # the draft revision is not published: the version with 1 material counts

    figures = api.get("/supervision/sharing-rate").get_json()
    assert figures["target_percent"] == 30
    city = figures["city"]
    # city: 3 shared of 11 materials.
    assert (city["materials"], city["shared"], city["items"]) == (11, 3, 4)
    assert (city["by_certificate"], city["by_verification_request"]) == (2, 1)
    assert (city["by_commitment"], city["must_submit"]) == (1, 7)
    assert city["sharing_rate"] == 0.2727 and city["sharing_rate_percent"] == 27.3
    assert city["meets_target"] is False
    departments = {d["department"]["code"]: d for d in figures["departments"]}
    assert set(departments) == {"amr", "psb"}
    amr, psb = departments["amr"], departments["psb"]
    assert (amr["materials"], amr["shared"], amr["sharing_rate_percent"]) == (6, 2, 33.3)
    assert amr["meets_target"] is True
    assert (psb["materials"], psb["shared"], psb["sharing_rate_percent"]) == (5, 1, 20.0)
    assert psb["meets_target"] is False


def test_exactly_thirty_percent_meets_the_target(api, seeded):
    materials = [
        _exempt("甲", "certificate"),
        _exempt("乙", "certificate"),
        _exempt("丙", "certificate"),
    ]
    materials += [material(f"需{i}") for i in range(7)]
    create_item("amr", "published", materials=materials)
    city = api.get("/supervision/sharing-rate").get_json()["city"]
    assert (city["sharing_rate"], city["meets_target"]) == (0.3, True)


def test_with_nothing_published_there_is_no_rate(api, seeded):
    create_item("amr", "approved")
    figures = api.get("/supervision/sharing-rate").get_json()
    assert figures["city"]["materials"] == 0
    assert figures["city"]["sharing_rate"] is None and figures["city"]["meets_target"] is False
    assert figures["departments"] == []
