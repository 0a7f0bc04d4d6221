"""The test-clock seam of app/auth.py on its own (no server): it ages sessions only on the demo
warehouse, only forward, and nothing it cannot read moves the clock."""

from __future__ import annotations

import pytest

from app import auth

DEMO, REAL = {"is_demo": True}, {"is_demo": False}


@pytest.fixture
def seam(tmp_path, monkeypatch):
    path = tmp_path / "clock"
    monkeypatch.setattr(auth, "_TEST_CLOCK_FILE", str(path))
    return path


def test_off_unless_the_server_was_started_with_it(monkeypatch):
    monkeypatch.setattr(auth, "_TEST_CLOCK_FILE", None)
    assert auth._test_clock_offset(DEMO) == 0


def test_a_forward_offset_on_the_demo_warehouse(seam):
    seam.write_text("1860.0")
    assert auth._test_clock_offset(DEMO) == 1860


def test_ignored_on_a_real_warehouse(seam):
    seam.write_text("1860.0")
    assert auth._test_clock_offset(REAL) == 0
    assert auth._test_clock_offset({}) == 0


@pytest.mark.parametrize("text", ["-600", "nan", "inf", "-inf", "soon", ""])
def test_it_never_holds_a_session_open_longer(seam, text):
    seam.write_text(text)
    assert auth._test_clock_offset(DEMO) == 0


def test_an_absent_file_is_the_real_clock(seam):
    assert not seam.exists() and auth._test_clock_offset(DEMO) == 0
