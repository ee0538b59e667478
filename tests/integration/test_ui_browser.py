"""The web page in a real browser: Debian's headless chromium, driven by Selenium through
chromium-driver, against a real stack (uvicorn, a slowed mock worker, Redis).

An operator enters the key, picks a registered character, submits a render, watches it
play over WHEP while the event stream fills the progress bar, then sees the finished
frames as a strip and the mp4 link. Screenshots of the live view and of the end are kept
(their paths are printed).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from render_cli.local_redis import LocalRedis
from tests.stack import Stack, register_portrait, running_stack

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

KEY = "key-ui-browser-0001"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FRAMES = 50  # 2 s at 25 fps
T = TypeVar("T")

if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
    pytest.skip(
        "needs Debian's chromium and chromium-driver (scripts/setup installs them)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("ui")
    with running_stack(
        redis_server.url,
        root,
        api_keys=f"operator:{KEY}",
        mock_frame_delay_s="0.08",  # 50 frames in about 4 s: something to watch
        frame_batch_size="8",
        first_batch_size="4",
    ) as s:
        s.start_worker("ui-mock")
        s.start_api()
        yield s


@pytest.fixture(scope="module")
def character(stack: Stack) -> dict[str, Any]:
    with httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {KEY}"}) as c:
        return register_portrait(c, name="astronaut")


@pytest.fixture
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI containers run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1100,1500",
        "--autoplay-policy=no-user-gesture-required",
        "--use-fake-ui-for-media-stream",
        # Host candidates as addresses, not mDNS names, on this loopback-only test host.
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--allow-loopback-in-peer-connection",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _until(check: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not happen within {timeout_s} s")


def test_an_operator_watches_a_render_live_then_gets_its_frames(
    stack: Stack,
    character: dict[str, Any],
    browser: Any,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shots = tmp_path_factory.mktemp("screenshots")
    browser.get(f"{stack.api_url}/ui/")
    browser.find_element(By.ID, "api-key").send_keys(KEY)
    browser.find_element(By.ID, "use-key").click()
    option = f"#character option[value='{character['id']}']"
    _until(lambda: browser.find_elements(By.CSS_SELECTOR, option), 20, "the character listed")
    Select(browser.find_element(By.ID, "character")).select_by_value(character["id"])
    Select(browser.find_element(By.ID, "emotion")).select_by_visible_text("happy")
    Select(browser.find_element(By.ID, "size")).select_by_visible_text("256")
    for field, value in (("duration", "2000"), ("fps", "25")):
        box = browser.find_element(By.ID, field)
        box.clear()
        box.send_keys(value)
    browser.find_element(By.ID, "submit").click()

    # The live view plays: a decoded size, and its clock moving, while the render runs.
    def playing() -> dict[str, Any] | None:
        state: dict[str, Any] = browser.execute_script(
            "const v = document.getElementById('live');"
            "return {w: v.videoWidth, h: v.videoHeight, t: v.currentTime,"
            " bar: document.getElementById('progress').value,"
            " max: document.getElementById('progress').max};"
        )
        return state if state["w"] > 0 and state["t"] > 0 else None

    first = _until(playing, 60, "the live video playing")
    time.sleep(0.5)
    later = playing()
    assert later is not None and later["t"] > first["t"], (first, later)
    assert (first["w"], first["h"]) == (256, 256)
    live_shot = shots / "ui-live.png"
    assert browser.save_screenshot(str(live_shot))
    # The progress bar follows the event stream: partway while the video already plays.
    assert later["max"] == FRAMES and 0 <= later["bar"] <= FRAMES

    def strip_done() -> int | None:
        count = browser.execute_script(
            "const s = document.getElementById('strip');"
            "const imgs = [...s.querySelectorAll('img')];"
            "return s.dataset.frames && imgs.every(i => i.complete && i.naturalWidth > 0)"
            " ? imgs.length : 0;"
        )
        return int(count) or None

    assert _until(strip_done, 90, "the finished strip") == FRAMES
    # The page fetches the mp4 after the strip and says "Done" last.
    status = browser.find_element(By.ID, "progress-text")
    _until(lambda: "Done:" in status.text or None, 30, "the page saying it is done")
    assert "Done: 50 frames" in status.text
    assert browser.find_element(By.ID, "progress").get_attribute("value") == str(FRAMES)
    link = browser.find_element(By.ID, "download")
    assert link.is_displayed() and link.get_attribute("href").startswith("blob:")
    done_shot = shots / "ui-done.png"
    assert browser.save_screenshot(str(done_shot))
    # The page breaks no rule of its policy (a violation is logged as a console error).
    problems = [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"]
    ]
    assert problems == []
    # The key is in the page's memory only: not in the URL, no cookie, no storage.
    assert KEY not in browser.current_url and browser.get_cookies() == []
    assert browser.execute_script("return sessionStorage.length + localStorage.length") == 0
    with capsys.disabled():  # in the test output, whatever the capture mode
        sys.stdout.write(f"\nscreenshots: {live_shot} {done_shot}\n")
