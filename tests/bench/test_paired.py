"""bench/paired.py: the ratios `make bench` reports are taken round by round."""

import pytest

from bench.paired import ratio


def test_a_slow_spell_that_hits_both_scenarios_of_a_round_leaves_their_ratio_alone():
    # The machine runs at full speed, half speed, then at 0.8: B is 1.5x A within every round.
    a = [400.0, 200.0, 320.0]
    b = [600.0, 300.0, 480.0]
    assert ratio(b, a) == {"median": 1.5, "low": 1.5, "high": 1.5}


def test_the_median_is_the_middle_round_not_a_ratio_of_figures_from_different_rounds():
    # True ratios 1.4, 1.5 and 1.6 at speeds 1, 0.5 and 0.8: the separate medians (512 / 320) would say 1.6.
    assert ratio([560.0, 300.0, 512.0], [400.0, 200.0, 320.0]) == {"median": 1.5, "low": 1.4, "high": 1.6}


def test_the_spread_is_the_lowest_and_highest_round():
    assert ratio([1.0, 3.0, 2.0, 8.0], [1.0, 1.0, 1.0, 2.0]) == {"median": 2.5, "low": 1.0, "high": 4.0}


@pytest.mark.parametrize(("top", "bottom"), [([], []), ([1.0], [1.0, 2.0])])
def test_rounds_that_do_not_pair_up_are_refused(top, bottom):
    with pytest.raises(ValueError, match="one figure of each scenario per round"):
        ratio(top, bottom)
