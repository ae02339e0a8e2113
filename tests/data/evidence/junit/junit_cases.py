"""Four test cases for a JUnit XML file with a skipped case, written by pytest itself (produce.py, PROVENANCE.md):
two pass, one fails, one is skipped. Not part of Assay's suite (no test_ prefix in the file name)."""

import pytest


def test_first_passes() -> None:
    assert 1 + 1 == 2


def test_second_passes() -> None:
    assert sorted("ba") == ["a", "b"]


def test_third_fails() -> None:
    assert 0.1 + 0.2 == 0.3  # a float sum: fails


@pytest.mark.skip(reason="skipped on purpose: a skipped case is not a passed one")
def test_fourth_is_skipped() -> None:
    raise AssertionError("never run")
