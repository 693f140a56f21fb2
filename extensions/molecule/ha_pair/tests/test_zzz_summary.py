"""Last of the scenario `ha_pair`'s test files (pytest takes them in name order):
print every figure the tests measured."""

from halab import MEASURES, say


def test_zzz_summary():
    say(f"measurements: {MEASURES}")
    assert MEASURES, "no test measured anything"
