"""Region codes: which codes a kindergarten may carry."""


def test_cities_without_districts_are_district_level() -> None:
    from feecheck.domain.regions import is_district_level

    assert is_district_level("441900") and is_district_level("110108")
    assert not is_district_level("440100") and not is_district_level("440000")
