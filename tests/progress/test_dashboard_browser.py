"""The dashboard (``/``) and a batch's page in a real headless Chromium, with real tasks.

Screenshots go to test-artifacts/. Same requirements as test_browser.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from progress.test_browser import (
    console_errors,
    screenshot_plain,
    text_of,
    wait_for,
)
from support.db import query
from support.progress import connect, progress_server

from sqlmig.progress import ProgressReporter

pytestmark = pytest.mark.slow


def rows(driver: Any) -> list[dict[str, str]]:
    """The dashboard's rows as the browser shows them, top to bottom."""
    script = """
      return [...document.querySelectorAll('#rows tr')].map((tr) => ({
        id: tr.dataset.id,
        title: tr.querySelector('td.task a').textContent,
        status: tr.querySelector('td.status span').textContent,
        percent: tr.querySelector('.pct').textContent,
        stage: tr.querySelector('td.stage').textContent,
        kids: tr.querySelector('.kids').textContent.trim(),
        width: tr.querySelector('.fill').style.width,
      }));
    """
    return list(driver.execute_script(script))


def child_classes(driver: Any) -> dict[str, str]:
    """A batch page's children: title -> the row's class (it names the status)."""
    script = """
      return Object.fromEntries([...document.querySelectorAll('#children .child')].map(
        (c) => [c.querySelector('a').textContent, c.className]));
    """
    return dict(driver.execute_script(script))


def by_title(driver: Any) -> dict[str, dict[str, str]]:
    return {r["title"]: r for r in rows(driver)}


def test_the_dashboard_follows_three_running_tasks_live(browser, init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        done = ProgressReporter.create(conn, "import.file", input_data={"title": "old import"})
        done.complete()
        browser.get(srv.url + "/")
        wait_for(browser, lambda d: "old import" in by_title(d), "the first page")
        wait_for(browser, lambda d: text_of(d, "conn") == "live", "the list stream")
        # Three tasks start after the page loaded: the one list stream brings them in.
        reps = [
            ProgressReporter.create(conn, "memory.episode", input_data={"title": f"Episode {i}"})
            for i in range(3)
        ]
        for step in range(1, 4):
            for i, rep in enumerate(reps):
                rep.report(10 * step + i, f"stage {step} of episode {i}")
        # (A list page or task read answered late must not undo a newer event: it did.)
        wait_for(
            browser,
            lambda d: (
                [by_title(d).get(f"Episode {i}", {}).get("percent") for i in range(3)]
                == ["30 %", "31 %", "32 %"]
            ),
            "every episode's last report",
        )
        shown = by_title(browser)
        assert [r["title"] for r in rows(browser)][:3] == ["Episode 2", "Episode 1", "Episode 0"]
        assert shown["Episode 1"]["status"] == "RUNNING"
        assert shown["Episode 1"]["stage"] == "stage 3 of episode 1"
        assert shown["Episode 1"]["width"] == "31%"
        reps[0].complete()
        reps[1].fail(RuntimeError("disk full"))
        wait_for(
            browser,
            lambda d: (
                (by_title(d)["Episode 0"]["status"], by_title(d)["Episode 1"]["status"])
                == ("COMPLETED", "FAILED")
            ),
            "the terminal events",
        )
        assert by_title(browser)["Episode 0"]["percent"] == "100 %"
        assert "3 running" not in text_of(browser, "summary")
        assert "1 completed" not in text_of(browser, "summary")  # two are: old import too
        assert "2 completed" in text_of(browser, "summary")
        assert console_errors(browser) == []
        screenshot_plain(browser, "dashboard-live.png")
        # A filter is a new list and a new stream, kept in the address.
        from selenium.webdriver.support.ui import Select

        Select(browser.find_element("id", "f-status")).select_by_value("RUNNING")
        wait_for(browser, lambda d: [r["title"] for r in rows(d)] == ["Episode 2"], "the filter")
        assert browser.current_url.endswith("/?status=RUNNING")
        reps[2].complete()  # leaves the filter's status: its terminal event is still shown
        wait_for(browser, lambda d: rows(d)[0]["status"] == "COMPLETED", "the leaving event")
        started = ProgressReporter.create(conn, "memory.episode", input_data={"title": "late"})
        started.report(5, "just started")
        wait_for(browser, lambda d: "late" in by_title(d), "a new running task")
        browser.get(srv.url + "/?type=import.file")
        wait_for(browser, lambda d: [r["title"] for r in rows(d)] == ["old import"], "type filter")
        assert browser.find_element("id", "f-type").get_attribute("value") == "import.file"
        assert console_errors(browser) == []


def test_paging_through_history_is_stable_while_tasks_arrive(browser, init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        for i in range(60):
            ProgressReporter.create(conn, "t.page", input_data={"title": f"task {i:02d}"})
        browser.get(srv.url + "/?type=t.page")
        wait_for(browser, lambda d: len(rows(d)) == 50, "the first page of 50")
        assert rows(browser)[0]["title"] == "task 59"
        # New tasks while reading the first page: they come in at the top, live.
        for i in range(60, 63):
            ProgressReporter.create(conn, "t.page", input_data={"title": f"task {i:02d}"}).report(
                1, "new"
            )
        wait_for(browser, lambda d: len(rows(d)) == 53, "the new tasks at the top")
        browser.find_element("id", "older").click()
        wait_for(browser, lambda d: len(rows(d)) == 63, "the older page")
        titles = [r["title"] for r in rows(browser)]
        assert titles == [f"task {i:02d}" for i in range(62, -1, -1)]  # each once, in order
        assert browser.find_element("id", "older").get_attribute("hidden") is not None
        assert console_errors(browser) == []


def test_a_batch_of_twenty_children_and_its_cancel(browser, init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        batch = ProgressReporter.create_batch(
            conn, "import.batch", input_data={"title": "Import 20 chapters"}
        )
        children = batch.add_children(
            "memory.episode",
            [{"title": f"Chapter {i + 1}"} for i in range(20)],
            sizes=[1 + i % 3 for i in range(20)],
        )
        browser.get(srv.url + "/")
        wait_for(browser, lambda d: "Import 20 chapters" in by_title(d), "the batch")
        # The children are the batch's: the list shows the batch with its counts.
        assert not any(r["title"].startswith("Chapter") for r in rows(browser))
        for child in children[:5]:
            child.report(50, "halfway")
        for child in children[:3]:
            child.complete()
        children[3].fail(RuntimeError("bad chapter"))

        def counted(d: Any) -> bool:
            kids = by_title(d)["Import 20 chapters"]["kids"]
            return kids.startswith("3 done 1 failed 1 running") and kids.endswith("of 20")

        wait_for(browser, counted, "the batch's counts")
        weights = [1 + i % 3 for i in range(20)]
        settled = sum(weights[:4]) * 100 + weights[4] * 50
        expected = settled / sum(weights)
        row = by_title(browser)["Import 20 chapters"]
        assert row["status"] == "RUNNING"
        assert row["percent"] == f"{round(expected * 10) / 10:g} %"
        screenshot_plain(browser, "dashboard-batch.png")

        # The batch's page: every child with its own bar, then Cancel cancels them all.
        browser.get(f"{srv.url}/tasks/{batch.task_id}")
        wait_for(browser, lambda d: len(child_classes(d)) == 20, "twenty children on its page")
        assert text_of(browser, "title") == "Import 20 chapters"
        shown = child_classes(browser)
        assert shown["Chapter 1"] == "child COMPLETED" and shown["Chapter 4"] == "child FAILED"
        assert shown["Chapter 5"] == "child RUNNING" and shown["Chapter 20"] == "child PENDING"
        screenshot_plain(browser, "progress-page-batch.png")
        children[5].report(10, "started")
        browser.find_element("id", "cancel").click()
        wait_for(browser, lambda d: text_of(d, "status") == "CANCELLED", "the batch cancelled")

        def all_settled(d: Any) -> bool:
            states = list(child_classes(d).values())
            return states.count("child CANCELLED") == 16 and "child RUNNING" not in states

        wait_for(browser, all_settled, "every unfinished child cancelled on the page")
        assert text_of(browser, "conn") == "cancelled"
        statuses = query(
            init_dsn,
            "select status::text, count(*) from async_tasks where parent_id = %s"
            " group by 1 order by 1",
            batch.task_id,
        )
        assert statuses == [("CANCELLED", 16), ("COMPLETED", 3), ("FAILED", 1)]
        assert [e for e in console_errors(browser) if "409" not in e] == []
        screenshot_plain(browser, "progress-page-batch-cancelled.png")
