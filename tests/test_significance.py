"""The intervals the eval and the quality benchmark print beside a change: is it beyond chance?"""

from __future__ import annotations

import pytest

from index.evaluate.significance import paired_difference, share_interval


def test_share_interval_is_wilsons():
    interval = share_interval([1.0] * 50 + [0.0] * 50)
    assert interval.value == 0.5 and interval.count == 100
    assert interval.low == pytest.approx(0.4038, abs=1e-4) and interval.high == pytest.approx(0.5962, abs=1e-4)
    assert share_interval([1.0] * 5).high == 1.0 and share_interval([1.0] * 5).low > 0.5


def test_a_few_flips_among_sixty_questions_are_within_chance():
    before = [0.0] * 3 + [1.0] * 57
    after = [1.0] * 2 + [0.0] + [1.0] * 57  # two questions better, none worse
    change = paired_difference(before, after)
    assert change.value == pytest.approx(2 / 60) and not change.beyond_chance
    assert "within what chance moves" in change.describe_change()


def test_a_broad_gain_over_hundreds_of_questions_is_beyond_chance():
    before = [0.0] * 100 + [1.0] * 759
    after = [1.0] * 80 + [0.0] * 20 + [0.0] * 10 + [1.0] * 749  # 80 better, 10 worse
    change = paired_difference(before, after)
    assert change.beyond_chance and change.low > 0
    assert change.describe_change().endswith("better beyond chance")
    worse = paired_difference(after, before)
    assert worse.high < 0 and worse.describe_change().endswith("worse beyond chance")


def test_the_same_reports_give_the_same_interval():
    before, after = [0.0, 1.0, 1.0, 0.0, 1.0] * 10, [1.0, 1.0, 0.0, 1.0, 1.0] * 10
    assert paired_difference(before, after) == paired_difference(before, after)


def test_unpaired_or_empty_outcomes_are_refused():
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 0.0])
    with pytest.raises(ValueError):
        share_interval([])
