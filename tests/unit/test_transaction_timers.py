"""TimerConfig: RFC 3261 §17 Table 4 from T1/T2/T4, and the TU's longer client timeout."""

from __future__ import annotations

import pytest

from ksrpy.sip.transaction import TimerConfig

#: Table 4 (RFC 3261 §17) and RFC 6026 §8.10: (timer, unreliable, reliable) for T1=0.5, T4=5.
TABLE_4 = [
    ("A", 0.5, None), ("B", 32.0, 32.0), ("D", 32.0, 0.0), ("E", 0.5, None),
    ("F", 32.0, 32.0), ("G", 0.5, None), ("H", 32.0, 32.0), ("I", 5.0, 0.0),
    ("J", 32.0, 0.0), ("K", 5.0, 0.0), ("L", 32.0, 32.0), ("M", 32.0, 32.0),
]


@pytest.mark.parametrize(("name", "unreliable", "reliable"), TABLE_4)
def test_table_4_defaults(name: str, unreliable: float, reliable: float | None) -> None:
    config = TimerConfig()
    assert config.duration(name, reliable=False) == unreliable
    assert config.duration(name, reliable=True) == reliable


def test_every_timer_follows_t1_and_t4() -> None:
    config = TimerConfig(t1=0.1, t2=0.4, t4=0.2)
    assert config.duration("A", reliable=False) == 0.1
    assert config.duration("B", reliable=False) == pytest.approx(6.4)
    assert config.duration("H", reliable=False) == pytest.approx(6.4)
    assert config.duration("K", reliable=False) == 0.2
    assert config.duration("I", reliable=False) == 0.2


def test_client_timeout_sets_b_and_f_only() -> None:
    config = TimerConfig(client_timeout=45.0)
    assert config.duration("B", reliable=False) == 45.0
    assert config.duration("F", reliable=True) == 45.0
    assert config.duration("H", reliable=False) == 32.0
    assert config.duration("M", reliable=False) == 32.0


def test_completed_wait_caps_d_j_l_m_only() -> None:
    config = TimerConfig(completed_wait=5.0)
    waits = {name: config.duration(name, reliable=False) for name in "DJLMHBFIK"}
    assert waits == {"D": 5.0, "J": 5.0, "L": 5.0, "M": 5.0, "H": 32.0, "B": 32.0,
                     "F": 32.0, "I": 5.0, "K": 5.0}
    assert config.duration("J", reliable=True) == 0.0  # reliable: no wait at all
    assert TimerConfig(t1=0.01, completed_wait=5.0).duration("L", reliable=False) == 0.64


@pytest.mark.parametrize("kwargs", [{"client_timeout": 0}, {"t1": 0}, {"t4": -1},
                                    {"completed_wait": 0},
                                    {"t1": 2.0, "t2": 1.0}])
def test_bad_values_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TimerConfig(**kwargs)
