"""Learning-rate schedules against their closed forms, computed here independently."""

import json
import math

import pytest

from fastnn.optim import schedules


@pytest.mark.parametrize("t,expected", [(0, 0.5), (2, 0.5), (3, 0.5 * 0.2), (5, 0.5 * 0.2), (6, 0.5 * 0.04),
                                        (10, 0.5 * 0.2**3)])
def test_step_decay_multiplies_by_gamma_every_step_size(t, expected):
    assert schedules.StepDecay(0.5, step_size=3, gamma=0.2)(t) == pytest.approx(expected, rel=1e-12)


def test_step_decay_default_gamma_is_a_tenth():
    assert schedules.StepDecay(1.0, step_size=2)(4) == pytest.approx(0.01, rel=1e-12)


@pytest.mark.parametrize("t", [0, 1, 3, 7, 12.5])
def test_exponential_decay_is_smooth_and_staircase_floors(t):
    smooth = schedules.ExponentialDecay(0.1, decay_rate=0.5, decay_steps=4)
    stair = schedules.ExponentialDecay(0.1, decay_rate=0.5, decay_steps=4, staircase=True)
    assert smooth(t) == pytest.approx(0.1 * math.pow(0.5, t / 4), rel=1e-12)
    assert stair(t) == pytest.approx(0.1 * math.pow(0.5, t // 4), rel=1e-12)


def test_exponential_decay_default_decays_every_step():
    assert schedules.ExponentialDecay(2.0, 0.9)(3) == pytest.approx(2.0 * 0.729, rel=1e-12)


@pytest.mark.parametrize("t", [0, 1, 5, 10, 17, 20])
def test_cosine_decay_is_pytorchs_closed_form(t):
    lr0, lo, total = 0.3, 0.01, 20
    expected = lo + 0.5 * (lr0 - lo) * (1 + math.cos(t * math.pi / total))
    assert schedules.CosineDecay(lr0, total_steps=total, min_lr=lo)(t) == pytest.approx(expected, rel=1e-12)


def test_cosine_decay_landmarks_and_hold_after_the_end():
    s = schedules.CosineDecay(1.0, total_steps=8)
    assert s(0) == 1.0
    assert s(4) == pytest.approx(0.5, abs=1e-15)   # half way: cos(pi / 2) = 0
    assert s(8) == pytest.approx(0.0, abs=1e-15)
    assert s(30) == pytest.approx(0.0, abs=1e-15)  # held, not rising again


def test_linear_warmup_ramps_then_hands_over_to_the_wrapped_schedule():
    inner = schedules.StepDecay(0.4, step_size=2, gamma=0.5)
    s = schedules.LinearWarmup(inner, warmup_steps=4, start_lr=0.0)
    assert [s(t) for t in range(4)] == pytest.approx([0.0, 0.1, 0.2, 0.3], rel=1e-12)
    # the wrapped schedule starts counting at the end of the warmup
    assert [s(t) for t in range(4, 9)] == pytest.approx([0.4, 0.4, 0.2, 0.2, 0.1], rel=1e-12)


def test_linear_warmup_to_a_constant_from_a_start_lr():
    s = schedules.LinearWarmup(1e-2, warmup_steps=5, start_lr=1e-3)
    assert s(0) == pytest.approx(1e-3)
    assert s(2) == pytest.approx(1e-3 + (1e-2 - 1e-3) * 2 / 5, rel=1e-12)
    assert s(5) == s(50) == pytest.approx(1e-2)
    assert schedules.LinearWarmup(0.1, warmup_steps=0)(0) == 0.1


def test_piecewise_constant_follows_keras_boundaries():
    s = schedules.PiecewiseConstant([3, 6], [1.0, 0.5, 0.1])
    assert [s(t) for t in (0, 3, 3.5, 6, 7, 100)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]


@pytest.mark.parametrize("schedule", [
    schedules.StepDecay(0.5, 3, 0.2),
    schedules.ExponentialDecay(0.1, 0.5, 4, staircase=True),
    schedules.CosineDecay(0.3, 20, 0.01),
    schedules.LinearWarmup(schedules.CosineDecay(0.3, 20), 4, start_lr=0.01),
    schedules.PiecewiseConstant([3, 6], [1.0, 0.5, 0.1]),
])
def test_config_round_trips_through_json(schedule):
    config = json.loads(json.dumps(schedule.get_config()))
    assert config["class_name"] == type(schedule).__name__
    rebuilt = schedules.from_config(config)
    assert rebuilt == schedule
    assert [rebuilt(t) for t in range(25)] == [schedule(t) for t in range(25)]


@pytest.mark.parametrize("make,error,match", [
    (lambda: schedules.StepDecay(0.1, step_size=0), ValueError, "step_size must be finite and > 0"),
    (lambda: schedules.StepDecay(0.1, step_size=1.5), TypeError, "step_size must be an integer"),
    (lambda: schedules.ExponentialDecay(-0.1, 0.5), ValueError, "initial_lr"),
    (lambda: schedules.CosineDecay(0.1, total_steps=0), ValueError, "total_steps"),
    (lambda: schedules.LinearWarmup("fast", 3), TypeError, "schedule_or_lr"),
    (lambda: schedules.PiecewiseConstant([1, 2], [1.0]), ValueError, "one more value"),
    (lambda: schedules.PiecewiseConstant([2, 1], [1.0, 2.0, 3.0]), ValueError, "increase"),
    (lambda: schedules.StepDecay(0.1, 2)(-1), ValueError, ">= 0"),
    (lambda: schedules.from_config({"class_name": "Nope", "config": {}}), ValueError, "unknown schedule"),
])
def test_bad_arguments_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()
