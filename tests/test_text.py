"""fttui.text: the one plural/size wording every layer uses, with the outputs each of the
six helpers it replaced gave."""

from __future__ import annotations

from fttui.text import binary_size, has_have, human_size, plural, verb_s


def test_plural_groups_thousands_unless_told_not_to():
    assert plural(1, "file") == "1 file"
    assert plural(0, "error") == "0 errors"
    assert plural(1200, "example") == "1,200 examples"
    assert plural(1200, "job folder", grouped=False) == "1200 job folders"


def test_the_verb_agrees_with_the_count():
    assert f"{plural(1, 'example')} use{verb_s(1)} {has_have(1)}" == "1 example uses has"
    assert f"{plural(3, 'example')} use{verb_s(3)} {has_have(3)}" == "3 examples use have"


def test_human_size_is_decimal_with_a_space():
    assert [human_size(n) for n in (0, 999, 1000, 1_500_000, 3 * 10**9, 10**13)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "1.5 MB",
        "3.0 GB",
        "10,000.0 GB",
    ]


def test_binary_size_is_binary_without_a_space():
    assert [binary_size(n) for n in (0, 1023, 1024, 1536 * 1024, 5 * 2**30)] == [
        "0B",
        "1023B",
        "1.0KB",
        "1.5MB",
        "5.0GB",
    ]
