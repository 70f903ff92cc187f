"""The progress page in a real headless Chromium, while `sqlmig demo episode` runs.

Needs Debian's chromium and chromium-driver (scripts/test installs them as
root) and selenium (the test extra). Without them the tests skip, except
under CI=true, where they fail. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.db import ROOT
from support.progress import TIMEOUT_S, Background, connect, progress_server, request

from sqlmig.progress.demo import run_episode, start_episode
from sqlmig.progress.server import BackgroundServer

ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.slow


def start_demo(dsn: str, url: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    """Run `sqlmig demo episode` as a user would; returns it and the page URL it printed."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SQLMIG_TOKEN", None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "sqlmig", "--dsn", dsn, "demo", "episode", "--url", url, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert demo.stdout is not None
    for _ in range(5):
        line = demo.stdout.readline()
        match = re.search(r"progress page: (\S+)", line)
        if match:
            return demo, match[1]
    demo.kill()
    demo.communicate()
    raise AssertionError("demo episode printed no page URL")


def wait_for(driver: Any, condition: Any, what: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, TIMEOUT_S, poll_frequency=0.05).until(condition, what)


def text_of(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, element_id).text)


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def screenshot(driver: Any, name: str) -> Path:
    """Save a screenshot once the bar's CSS transitions have come to rest."""
    script = (
        "const s = getComputedStyle(document.getElementById('bar'));"
        "return s.width + ' ' + s.backgroundColor;"
    )
    previous: list[str] = []

    def settled(d: Any) -> bool:
        previous.append(d.execute_script(script))
        return len(previous) >= 8 and len(set(previous[-8:])) == 1

    wait_for(driver, settled, "the bar to stop moving")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


def test_page_follows_the_demo_to_100_percent(browser, init_dsn):
    from selenium.webdriver.common.by import By

    with progress_server(init_dsn) as srv:
        demo, page_url = start_demo(init_dsn, srv.url, "--delay", "0.4")
        try:
            browser.get(page_url)
            bar = browser.find_element(By.ID, "progressbar")
            wait_for(
                browser,
                lambda d: not d.find_element(By.ID, "done").get_attribute("hidden"),
                "the completion panel",
            )
            wait_for(
                browser, lambda d: text_of(d, "done-text").startswith("Finished in"), "duration"
            )
            assert bar.get_attribute("aria-valuenow") == "100"
            assert text_of(browser, "percent") == "100 %"
            assert text_of(browser, "message") == "Completed"
            assert text_of(browser, "done-title") == "Completed"
            assert text_of(browser, "status") == "COMPLETED"
            assert text_of(browser, "conn") == "finished"
            assert text_of(browser, "title") == "Demo episode" == browser.title.split(" · ")[0]
            history = browser.find_elements(By.CSS_SELECTOR, "#history li")
            assert [li.find_element(By.CLASS_NAME, "m").text for li in history] == [
                "Starting ingestion",
                "Loading schema",
                "Extracting entities and relationships",
                "Syncing schema",
                "Updating communities",
                "Completed",
            ]
            assert browser.find_element(By.ID, "cancel").get_attribute("disabled") is not None
            assert browser.find_element(By.ID, "error").get_attribute("hidden") is not None
            assert console_errors(browser) == []  # no CSP violation, no script error
            path = screenshot(browser, "progress-page.png")
        finally:
            _, err = demo.communicate(timeout=TIMEOUT_S)
    assert demo.returncode == 0, err
    assert path.stat().st_size > 10_000


def test_cancel_button_stops_the_pipeline(browser, init_dsn):
    from selenium.webdriver.common.by import By

    with progress_server(init_dsn) as srv:
        demo, page_url = start_demo(init_dsn, srv.url, "--delay", "60")
        try:
            browser.get(page_url)
            wait_for(browser, lambda d: text_of(d, "percent") == "10 %", "the first stage")
            browser.find_element(By.ID, "cancel").click()
            wait_for(browser, lambda d: text_of(d, "status") == "CANCELLED", "the cancelled event")
            assert text_of(browser, "done-title") == "Cancelled"
            assert text_of(browser, "conn") == "cancelled"  # not a green "finished"
            assert dot_colour(browser) == GREY
            assert console_errors(browser) == []
            screenshot(browser, "progress-page-cancelled.png")
        finally:
            _, err = demo.communicate(timeout=TIMEOUT_S)
    assert demo.returncode == 1 and "was cancelled" in err


def test_failure_shows_the_error_panel(browser, init_dsn):
    from selenium.webdriver.common.by import By

    with progress_server(init_dsn) as srv:
        demo, page_url = start_demo(
            init_dsn, srv.url, "--delay", "0.3", "--fail-at", "syncing_schema"
        )
        try:
            browser.get(page_url)
            wait_for(
                browser,
                lambda d: not d.find_element(By.ID, "error").get_attribute("hidden"),
                "the error panel",
            )
            assert text_of(browser, "error-type") == "TaskFailed"
            assert "simulated failure" in text_of(browser, "error-text")
            assert text_of(browser, "status") == "FAILED"
            assert text_of(browser, "percent") == "30 %"
            assert text_of(browser, "conn") == "failed"
            assert dot_colour(browser) == RED
            screenshot(browser, "progress-page-failed.png")
        finally:
            _, err = demo.communicate(timeout=TIMEOUT_S)
    assert demo.returncode == 1 and "simulated failure" in err


GREEN, RED, GREY = "rgb(18, 161, 80)", "rgb(217, 45, 32)", "rgb(152, 162, 179)"


def dot_colour(driver: Any) -> str:
    """The colour of the live/finished dot (a ::before pseudo-element)."""
    script = "return getComputedStyle(document.getElementById('conn'), '::before').color"
    return str(driver.execute_script(script))


def test_a_finished_task_page_keeps_its_elapsed_time_and_title(browser, init_dsn):
    """Opened after the end: elapsed is the task's own duration and does not tick on."""
    from selenium.webdriver.common.by import By

    title = "Episode " + "with a long title that must wrap on a narrow screen " * 3
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        memory_id, rep = start_episode(conn, title=title.strip())
        rep.report(10, "Starting ingestion", stage="ingesting")
        time.sleep(1.2)  # a task that ran for a while, so its duration reads "1 s" or more
        rep.report(99.95, "A stage message long enough to push against the percent " * 3)
        rep.complete({"memory_id": str(memory_id)})
        elapsed_s = request(srv.port, "GET", f"/api/v1/tasks/{rep.task_id}").json()["elapsed_s"]
        browser.set_window_size(380, 860)
        try:
            browser.get(f"{srv.url}/tasks/{rep.task_id}")
            wait_for(browser, lambda d: text_of(d, "status") == "COMPLETED", "the end")
            wait_for(browser, lambda d: text_of(d, "done-text").startswith("Finished in"), "time")
            shown = text_of(browser, "elapsed")
            assert shown == f"{round(elapsed_s)} s", (shown, elapsed_s)
            time.sleep(2.2)  # two ticks of the page's one-second clock
            assert text_of(browser, "elapsed") == shown
            assert text_of(browser, "eta") == "\u2013"  # an en dash: no estimate
            assert text_of(browser, "conn") == "finished" and dot_colour(browser) == GREEN
            assert text_of(browser, "title") == title.strip()
            assert text_of(browser, "percent") == "100 %"
            percent = browser.find_element(By.ID, "percent")
            line = browser.execute_script(
                "return parseFloat(getComputedStyle(arguments[0]).lineHeight)", percent
            )
            assert percent.size["height"] < 1.5 * line  # one line: "100 %" never wraps
            assert console_errors(browser) == []
            screenshot(browser, "progress-page-finished-narrow.png")
        finally:
            browser.set_window_size(900, 860)


def test_an_unknown_task_is_a_friendly_page(browser, init_dsn):
    with progress_server(init_dsn) as srv:
        browser.get(f"{srv.url}/tasks/{uuid.uuid4()}")
        assert text_of(browser, "title") == "Task not found"
        assert "There is no task" in text_of(browser, "message")
        screenshot_plain(browser, "progress-page-unknown-task.png")
        # The one console entry is the 404 itself (and reading it empties the log).
        assert [e for e in console_errors(browser) if "404" not in e] == []


def screenshot_plain(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


FRONT_END = b"""<!doctype html><meta charset="utf-8"><title>front-end</title><ul id="log"></ul>
<script>
const q = new URLSearchParams(location.search);
const api = q.get("api") + "/api/v1/tasks/" + q.get("id");
const log = (text) => {
  const li = document.createElement("li");
  li.textContent = text;
  document.getElementById("log").append(li);
};
fetch(api).then((r) => r.json()).then((t) => log("task " + t.task_type));
const es = new EventSource(api + "/stream");
for (const name of ["progress", "completed"]) {
  es.addEventListener(name, (e) => {
    log(name + " " + JSON.parse(e.data).percent);
    if (name === "completed") { es.close(); log("closed"); }
  });
}
</script>"""


def test_front_end_on_another_port_uses_the_stream(browser, init_dsn):
    """CORS for real: a page served from another origin reads the JSON API and the stream."""
    from selenium.webdriver.common.by import By

    def front_end(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [FRONT_END]

    with (
        BackgroundServer(front_end) as front,
        progress_server(init_dsn, cors_origins=(front.url,)) as srv,
        connect(init_dsn) as conn,
    ):
        memory_id, rep = start_episode(conn)
        browser.get(f"{front.url}/?api={srv.url}&id={rep.task_id}")
        wait_for(browser, lambda d: "task memory.episode" in text_of(d, "log"), "the JSON API")
        work = Background(lambda: run_episode(rep, memory_id, delay_s=0.05))
        wait_for(browser, lambda d: "closed" in text_of(d, "log"), "the completed event")
        work.result()
    lines = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#log li")]
    assert lines == [
        "task memory.episode",
        "progress 10",
        "progress 20",
        "progress 30",
        "progress 50",
        "progress 75",
        "completed 100",
        "closed",
    ]
    assert console_errors(browser) == []


def test_page_reconnects_by_itself_when_the_server_restarts(browser, init_dsn):
    """The progress server goes away mid-task and comes back on the same port."""
    from selenium.webdriver.common.by import By

    with connect(init_dsn) as conn:
        memory_id, rep = start_episode(conn)
        with progress_server(init_dsn) as first:
            port = first.port
            browser.get(f"{first.url}/tasks/{rep.task_id}")
            wait_for(browser, lambda d: text_of(d, "conn") == "live", "the stream")
            rep.report(10, "Starting ingestion", stage="ingesting")
            wait_for(browser, lambda d: text_of(d, "percent") == "10 %", "the first row")
        # Streams ended with the server; rows committed now reach nobody live.
        rep.report(20, "Loading schema", stage="loading_schema")
        with progress_server(init_dsn, port=port):
            work = Background(lambda: run_episode_rest(rep, memory_id))
            wait_for(browser, lambda d: text_of(d, "status") == "COMPLETED", "completion")
            work.result()
    history = [
        li.find_element(By.CLASS_NAME, "m").text
        for li in browser.find_elements(By.CSS_SELECTOR, "#history li")
    ]
    assert history == [
        "Starting ingestion",
        "Loading schema",
        "Extracting entities and relationships",
        "Completed",
    ]


def run_episode_rest(rep, memory_id):
    rep.report(30, "Extracting entities and relationships", stage="extracting")
    rep.complete({"memory_id": str(memory_id)})


def requested_urls(driver: Any) -> list[str]:
    """Every URL the browser asked for since the last call (DevTools network log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_page_trades_the_token_for_a_cookie_and_no_url_carries_it(browser, init_dsn, caplog):
    """A link with ?token= opened from another site: the page streams on the cookie alone."""
    from selenium.webdriver.common.by import By

    caplog.set_level(logging.INFO, logger="sqlmig.progress")
    token = "Br0wser-T0ken-value"
    with (
        progress_server(init_dsn, token=token, access_log=True) as srv,
        connect(init_dsn) as conn,
    ):
        memory_id, rep = start_episode(conn)
        page = f"{srv.url}/tasks/{rep.task_id}"
        link = f"{page}?token={token}"

        def link_page(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [f'<!doctype html><title>chat</title><a id="go" href="{link}">job</a>'.encode()]

        # Without the token, the page shows no task data and says what to do.
        browser.get(page)
        wait_for(browser, lambda d: text_of(d, "status") == "TOKEN NEEDED", "the sign-in note")
        assert "?token=TOKEN" in text_of(browser, "note")
        screenshot(browser, "progress-page-token-needed.png")
        assert all("401" in e for e in console_errors(browser))  # (and empties the log)

        # localhost is another site than 127.0.0.1: a cross-site navigation, on which
        # browsers send no SameSite=Strict cookie (the page's own requests then do).
        with BackgroundServer(link_page) as chat:
            browser.get(chat.url.replace("127.0.0.1", "localhost"))
            requested_urls(browser)  # from here on, every URL counts
            browser.find_element(By.ID, "go").click()
            wait_for(browser, lambda d: text_of(d, "conn") == "live", "the stream")
        assert browser.current_url == page
        work = Background(lambda: run_episode(rep, memory_id, delay_s=0.05))
        wait_for(
            browser,
            lambda d: text_of(d, "done-text").startswith("Finished in"),
            "completion and its duration (fetched after the end)",
        )
        work.result()
        assert text_of(browser, "status") == "COMPLETED"
        assert browser.execute_script("return document.cookie") == ""  # HttpOnly
        assert console_errors(browser) == []
        path = screenshot(browser, "progress-page-token.png")
        urls = requested_urls(browser)

    assert path.stat().st_size > 10_000
    # The browser's side: the link itself is the only URL with the token.
    assert [u for u in urls if "token" in u] == [link], urls
    assert page in urls
    assert f"{srv.url}/api/v1/tasks/{rep.task_id}/stream" in urls
    assert f"{srv.url}/api/v1/tasks/{rep.task_id}" in urls
    # The server's side: its access log saw the token once, masked, and never in clear.
    assert token not in caplog.text
    lines = [r.getMessage() for r in caplog.records if '"' in r.getMessage()]
    signed_in = [line for line in lines if "token" in line]
    assert len(signed_in) == 1 and f'/tasks/{rep.task_id}?token=*** HTTP/1.1" 303' in signed_in[0]
    stream_ok = f'"GET /api/v1/tasks/{rep.task_id}/stream HTTP/1.1" 200'
    assert any(stream_ok in line for line in lines), lines
    assert not any(" 401 " in line for line in lines[lines.index(signed_in[0]) :]), lines
