"""The learning-rate rule: a short LoRA run learns at a higher rate; long runs stay put."""

from __future__ import annotations

import pytest

from fttui.server.trainer import learning_rate, lr_factor


def test_learning_rate_boosts_a_48_step_lora_run_to_1e_3() -> None:
    # 12 examples × 4 epochs at auto batch 1 and auto multiplier 0.05: 1e-4 did not learn
    assert learning_rate(0.05, True, 48) == pytest.approx(1e-3)


def test_learning_rate_keeps_long_runs_and_full_fine_tunes_at_the_plain_rate() -> None:
    assert learning_rate(0.2, True, 4800) == pytest.approx(4e-4)
    assert learning_rate(0.2, True, 20_000) == pytest.approx(4e-4)
    assert learning_rate(0.1, False, 48) == pytest.approx(2e-5)
    assert learning_rate(0.1, True) == pytest.approx(2e-4)  # no step count: no boost


def test_learning_rate_boost_shrinks_with_steps_and_never_lowers_an_explicit_rate() -> None:
    rates = [learning_rate(0.05, True, s) for s in (48, 200, 1000, 3000, 4800)]
    assert rates == sorted(rates, reverse=True)
    assert learning_rate(0.1, True, 1000) == pytest.approx(2e-4 * (4.8**0.5))
    assert learning_rate(10, True, 24) == pytest.approx(2e-2)  # above the cap: as asked


def test_lr_factor_warms_up_then_decays_to_a_tenth_not_zero() -> None:
    assert lr_factor(0, 48) == pytest.approx(0.5)  # warm-up: 2 steps
    assert lr_factor(2, 48) == pytest.approx(1.0)
    assert lr_factor(47, 48) == pytest.approx(0.1 + 0.9 / 46)
    assert lr_factor(48, 48) == pytest.approx(0.1)
