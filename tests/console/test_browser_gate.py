"""Without chromium the browser tests say so loudly and skip; with BACKOFFICE_REQUIRE_CHROMIUM=1
(CI) they fail instead."""
import pytest

from tests.console import browser


@pytest.fixture
def no_chromium(monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setattr(browser.Path, "exists", lambda self: False)


def test_missing_chromium_skips_loudly(no_chromium, monkeypatch, capsys):
    monkeypatch.delenv("BACKOFFICE_REQUIRE_CHROMIUM", raising=False)
    with pytest.warns(UserWarning, match="DID NOT RUN"), pytest.raises(pytest.skip.Exception):
        browser.chromium_paths()
    assert "*** SKIPPED: chromium / chromedriver not found" in capsys.readouterr().out


def test_missing_chromium_fails_when_required(no_chromium, monkeypatch):
    monkeypatch.setenv("BACKOFFICE_REQUIRE_CHROMIUM", "1")
    with pytest.raises(pytest.fail.Exception, match="BACKOFFICE_REQUIRE_CHROMIUM=1"):
        browser.chromium_paths()


def test_present_chromium_is_found_by_path():
    if not browser.Path("/usr/bin/chromium").exists():
        pytest.skip("no chromium here")
    assert browser.chromium_paths() == ("/usr/bin/chromium", "/usr/bin/chromedriver")
