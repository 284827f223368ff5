"""The web console, in headless Chromium, against a real server: executions
created over gRPC appear in the list live; changes committed together reach
the list in one message of several events; the timeline draws task runs and
their attempts; the page shows only the moves its state allows, and says when
the execution does not exist; the kill button cascades; a refused move shows
the server's message; a server restart is survived without a reload, a
duplicate or a gap;
1,000 task runs render in a measured time. ``STATEHOUSE_SCREENSHOTS=DIR``
(``make screenshots``) also saves the screenshots committed in docs/."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from statehouse.client import Client, State, TaskRetryPolicy, counter, timer
from statehouse.server.security.credentials import issue_offline
from tests.browser.conftest import ConsoleServer, wait_for

# One browser, one worker: the tests run one after another.
pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.timeout(180)]

LIST_ROWS = """
return [...document.querySelectorAll('#executions tbody tr[data-id]')]
  .map(r => [r.dataset.id, r.dataset.state]);
"""
TIMELINE_ROWS = """
return [...document.querySelectorAll('.timeline .trow')].map(r => ({
  kind: r.dataset.kind, taskRun: r.dataset.taskRun || '', attempt: r.dataset.attempt || '',
  state: r.querySelector('.label .state').dataset.state,
  bars: [...r.querySelectorAll('.bar')].map(b => b.dataset.state),
}));
"""


def stream_status(browser: Any) -> str:
    return str(browser.execute_script("return document.body.dataset.stream || ''"))


def open_page(browser: Any, url: str) -> None:
    browser.get(url)
    wait_for(lambda: stream_status(browser) == "live", 10, "the event stream to be live")


def list_rows(browser: Any) -> dict[str, str]:
    rows: list[list[str]] = browser.execute_script(LIST_ROWS)
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids)), f"a row listed twice: {ids}"
    return {row[0]: row[1] for row in rows}


def timeline(browser: Any) -> list[dict[str, Any]]:
    return list(browser.execute_script(TIMELINE_ROWS))


def shown_moves(browser: Any) -> list[str]:
    """The lifecycle buttons the execution's page shows (hidden ones left out)."""
    buttons = browser.find_elements("css selector", ".actions button")
    return [b.get_attribute("data-move") for b in buttons if b.is_displayed()]


def execution_state(browser: Any) -> str:
    return str(
        browser.execute_script(
            "return document.querySelector('.execution-page')?.dataset.state || ''"
        )
    )


def test_executions_created_over_grpc_appear_in_the_list_within_2_seconds(
    browser: Any, console_server: ConsoleServer, client: Client
) -> None:
    open_page(browser, console_server.url + "/")
    started = time.monotonic()
    ids = [client.create_execution(namespace="demo", flow_id="hello").id for _ in range(3)]
    wait_for(lambda: set(ids) <= set(list_rows(browser)), 2.0, "the new rows")
    appeared = time.monotonic() - started
    print(f"3 executions created over gRPC listed after {appeared * 1000:.0f} ms")
    assert list_rows(browser) == dict.fromkeys(ids, "CREATED")

    # A state change moves the row and the counts.
    run = client.create_task_run(execution_id=ids[0], task_id="t").task_run
    client.transition_task_run(run.id, state=State.RUNNING, worker_id="w")
    wait_for(lambda: list_rows(browser)[ids[0]] == "RUNNING", 2.0, "RUNNING in the list")
    counts = "return Object.fromEntries([...document.querySelectorAll('#counts a[data-state]')].map(a => [a.dataset.state, a.querySelector('.number').textContent]))"
    wait_for(lambda: browser.execute_script(counts).get("RUNNING") == "1", 2.0, "the counts")
    assert browser.execute_script(counts)["CREATED"] == "2"

    # Keyboard: a row takes the focus, Enter opens the execution.
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{ids[0]}"]')
    browser.execute_script("arguments[0].focus()", row)
    assert browser.execute_script("return document.activeElement.dataset.id") == ids[0]
    row.send_keys(Keys.ENTER)
    wait_for(lambda: browser.current_url.endswith(f"/executions/{ids[0]}"), 5, "the execution page")
    wait_for(lambda: execution_state(browser) == "RUNNING", 5, "the execution page drawn")


#: Installed before the page's scripts: counts the events of each message of the
#: page's Subscribe streams (Connect envelopes; SubscribeResponse fields 1 and 3)
#: into window.__subscribeEvents, the page reading a copy of the stream.
COUNT_SUBSCRIBE_EVENTS = """
window.__subscribeEvents = [];
const pageFetch = window.fetch;
function countEvents(bytes) {
  let i = 0, count = 0;
  const varint = () => { let v = 0, s = 0, b; do { b = bytes[i++]; v += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80); return v; };
  while (i < bytes.length) {
    const tag = varint();
    if ((tag & 7) === 2) { const size = varint(); i += size; }
    else if ((tag & 7) === 0) varint();
    else break;
    if (tag >> 3 === 1 || tag >> 3 === 3) count++;
  }
  return count;
}
window.fetch = async (input, init) => {
  const response = await pageFetch(input, init);
  const url = typeof input === 'string' ? input : input.url;
  if (!url.endsWith('/statehouse.v1.EventService/Subscribe') || !response.body) return response;
  const [page, copy] = response.body.tee();
  (async () => {
    const reader = copy.getReader();
    let buffer = new Uint8Array(0);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const joined = new Uint8Array(buffer.length + value.length);
      joined.set(buffer);
      joined.set(value, buffer.length);
      buffer = joined;
      while (buffer.length >= 5) {
        const size = new DataView(buffer.buffer, buffer.byteOffset).getUint32(1);
        if (buffer.length < 5 + size) break;
        if (buffer[0] === 0) window.__subscribeEvents.push(countEvents(buffer.subarray(5, 5 + size)));
        buffer = buffer.slice(5 + size);
      }
    }
  })().catch(() => {});
  return new Response(page, response);
};
"""


def test_rows_listed_before_changes_committed_together_move_together_from_one_message(
    browser: Any, console_server: ConsoleServer, client: Client
) -> None:
    ids = [client.create_execution(namespace="batch", flow_id="b").id for _ in range(20)]
    runs = [client.create_task_run(execution_id=i, task_id="t").task_run.id for i in ids]
    script = browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_SUBSCRIBE_EVENTS}
    )
    try:
        open_page(browser, console_server.url + "/?namespace=batch")
        wait_for(lambda: list_rows(browser) == dict.fromkeys(ids, "CREATED"), 5, "the rows")
        # One commit: 20 task-run events and 20 execution events, sent together
        # (the console asks for several events per message).
        client.transition_task_runs([{"task_run_id": run, "state": State.RUNNING} for run in runs])
        wait_for(
            lambda: list_rows(browser) == dict.fromkeys(ids, "RUNNING"), 3, "every row RUNNING"
        )
        counts: list[int] = browser.execute_script("return window.__subscribeEvents")
        print(f"events per Subscribe message: {counts}")
        assert max(counts) > 1, f"events per Subscribe message: {counts}"
    finally:
        browser.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
        )


def test_filters_are_in_the_url_and_survive_a_reload(
    browser: Any, console_server: ConsoleServer, client: Client
) -> None:
    prod = client.create_execution(namespace="a", flow_id="f", labels={"env": "prod"}).id
    client.create_execution(namespace="a", flow_id="f", labels={"env": "dev"})
    client.create_execution(namespace="b", flow_id="f", labels={"env": "prod"})
    url = console_server.url + "/?namespace=a&label=env%3Dprod&state=CREATED"
    open_page(browser, url)
    wait_for(lambda: list_rows(browser) == {prod: "CREATED"}, 5, "the filtered rows")
    browser.refresh()
    wait_for(lambda: stream_status(browser) == "live", 10, "live after the reload")
    wait_for(lambda: list_rows(browser) == {prod: "CREATED"}, 5, "the same rows after a reload")
    values = browser.execute_script(
        "return [...document.querySelectorAll('form.filters [name]')].map(e => e.value)"
    )
    assert values == ["a", "", "CREATED", "env=prod"]
    # A later execution that matches shows up; one that does not, does not.
    late = client.create_execution(namespace="a", flow_id="f", labels={"env": "prod"}).id
    client.create_execution(namespace="a", flow_id="f", labels={"env": "dev"})
    wait_for(lambda: list_rows(browser) == {late: "CREATED", prod: "CREATED"}, 2, "the late row")


COLOURS = """
const colour = (e, p) => getComputedStyle(e)[p].match(/[\\d.]+/g).slice(0, 3).map(Number);
const body = document.body;
return {
  background: colour(body, 'backgroundColor'),
  text: colour(body, 'color'),
  states: [...document.querySelectorAll('#counts .state')].map(e => [e.dataset.state, colour(e, 'color')]),
};
"""


def _contrast(a: list[float], b: list[float]) -> float:
    """The WCAG contrast ratio of two sRGB colours."""

    def luminance(rgb: list[float]) -> float:
        linear = [
            c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
            for c in rgb
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_light_and_dark_mode_are_readable(
    browser: Any, console_server: ConsoleServer, client: Client, scheme: str
) -> None:
    client.create_execution(namespace="demo", flow_id="hello")
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )
    try:
        open_page(browser, console_server.url + "/")
        wait_for(lambda: list_rows(browser), 5, "a row")
        colours = browser.execute_script(COLOURS)
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    background = colours["background"]
    assert (sum(background) / 3 < 60) == (scheme == "dark"), background
    assert _contrast(colours["text"], background) >= 7, colours
    for state, colour in colours["states"]:
        assert _contrast(colour, background) >= 3, (scheme, state, colour, background)


def test_the_timeline_draws_task_runs_their_attempts_and_metrics(
    browser: Any, console_server: ConsoleServer, client: Client
) -> None:
    execution = client.create_execution(
        namespace="demo", flow_id="etl", inputs={"day": "2026-12-01"}
    )
    policy = TaskRetryPolicy.constant(interval="300ms", max_attempts=3)
    extract = client.create_task_run(
        execution_id=execution.id, task_id="extract", retry_policy=policy
    ).task_run
    load = client.create_task_run(execution_id=execution.id, task_id="load").task_run
    open_page(browser, f"{console_server.url}/executions/{execution.id}")  # a deep link

    def row(task_run: str, kind: str = "task-run", attempt: str = "") -> dict[str, Any] | None:
        for entry in timeline(browser):
            if (
                entry["taskRun"] == task_run
                and entry["kind"] == kind
                and entry["attempt"] == attempt
            ):
                return entry
        return None

    client.transition_task_run(extract.id, state=State.RUNNING, worker_id="w1")
    wait_for(lambda: (row(extract.id) or {}).get("state") == "RUNNING", 2, "extract RUNNING")
    assert row(extract.id)["bars"][-1] == "RUNNING"  # type: ignore[index]
    # A running bar grows with the clock.
    width = "return document.querySelector('.trow[data-task-run=\"%s\"] .bar[data-state=RUNNING]').getBoundingClientRect().width"
    first = browser.execute_script(width % extract.id)
    wait_for(
        lambda: browser.execute_script(width % extract.id) > first, 3, "the running bar to grow"
    )

    failed = client.transition_task_run(extract.id, state=State.FAILED, reason="timeout")
    assert failed.retry.scheduled
    wait_for(lambda: row(extract.id, "attempt", "1") is not None, 2, "attempt rows")
    wait_for(
        lambda: (row(extract.id, "attempt", "1") or {}).get("state") == "FAILED",
        2,
        "attempt 1 FAILED",
    )
    due = failed.task_run.next_attempt_time.ToDatetime().timestamp()
    time.sleep(max(0.0, due - time.time()) + 0.05)  # the retry policy's interval, not a sync
    client.transition_task_run(extract.id, state=State.RUNNING, worker_id="w2")
    client.record_metrics(
        extract.id,
        metrics=[
            counter("rows", 120),
            counter("rows", 80),
            timer("fetch", timedelta(milliseconds=350)),
        ],
    )
    client.transition_task_run(extract.id, state=State.SUCCESS, outputs={"rows": 200})
    wait_for(lambda: (row(extract.id) or {}).get("state") == "SUCCESS", 2, "extract SUCCESS")
    attempts = [e for e in timeline(browser) if e["kind"] == "attempt"]
    assert [(a["attempt"], a["state"]) for a in attempts] == [("1", "FAILED"), ("2", "SUCCESS")]
    assert "FAILED" in row(extract.id)["bars"] and "RESTARTED" in row(extract.id)["bars"]  # type: ignore[index]

    client.transition_task_run(load.id, state=State.RUNNING, worker_id="w1")
    client.transition_task_run(load.id, state=State.SUCCESS)
    client.complete_execution(execution.id)
    wait_for(lambda: execution_state(browser) == "SUCCESS", 2, "the execution SUCCESS")
    kinds = [e["kind"] for e in timeline(browser)]
    assert kinds == ["execution", "task-run", "attempt", "attempt", "task-run"]

    # History with actors and reasons, inputs and outputs, a chart per metric.
    history = browser.execute_script(
        "return [...document.querySelectorAll('.hrow')].map(r => r.querySelector('.reason').textContent)"
    )
    assert "timeout" in history
    wait_for(
        lambda: (
            browser.execute_script(
                "return [...document.querySelectorAll('#metrics figure')].map(f => f.dataset.metric)"
            )
            == ["fetch", "rows"]
        ),
        3,
        "the metric charts",
    )
    assert "2026-12-01" in browser.find_element("css selector", ".payloads").text


DETAIL = """
const d = document.querySelector('#detail');
return {
  taskRun: d.dataset.taskRun || '',
  worker: d.querySelector('dd.worker')?.textContent ?? null,
  lease: d.querySelector('dd.lease')?.textContent ?? null,
  leaseUntil: d.querySelector('dd.lease-until')?.textContent ?? null,
};
"""


def test_the_detail_of_a_running_task_run_shows_its_worker_and_lease(
    browser: Any, console_server: ConsoleServer, client: Client
) -> None:
    execution = client.create_execution(namespace="demo", flow_id="leases")
    leased = client.create_task_run(execution_id=execution.id, task_id="leased").task_run
    plain = client.create_task_run(execution_id=execution.id, task_id="plain").task_run
    claimed = client.claim_task_runs(
        worker_id="w-leased", flow_id="leases", task_ids=["leased"], lease_duration=30
    )
    assert [c.task_run.id for c in claimed] == [leased.id]
    client.transition_task_run(plain.id, state=State.RUNNING, worker_id="w-plain")
    open_page(browser, f"{console_server.url}/executions/{execution.id}")

    def detail_of(task_run_id: str) -> dict[str, Any]:
        row = f'.trow[data-kind="task-run"][data-task-run="{task_run_id}"]'
        # Clicked in the page: the rows are redrawn as the clock moves.
        click = f"const r = document.querySelector('{row}'); if (r) r.click(); return !!r;"
        wait_for(lambda: bool(browser.execute_script(click)), 3, f"the row of {task_run_id}")
        wait_for(lambda: browser.execute_script(DETAIL)["taskRun"] == task_run_id, 3, "the detail")
        return dict(browser.execute_script(DETAIL))

    shown = detail_of(leased.id)
    assert (shown["worker"], shown["lease"]) == ("w-leased", "30.0s, extended by each heartbeat")
    until = claimed[0].lease_expire_time.ToDatetime().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert shown["leaseUntil"] == until
    shown = detail_of(plain.id)
    assert (shown["worker"], shown["lease"], shown["leaseUntil"]) == ("w-plain", "none", None)

    # The detail follows the task run: once its attempt ends, no worker holds it.
    detail_of(leased.id)
    client.transition_task_run(leased.id, state=State.SUCCESS, attempt=claimed[0].attempt)
    wait_for(lambda: browser.execute_script(DETAIL)["worker"] is None, 3, "the worker to be gone")
    assert browser.execute_script(DETAIL)["lease"] is None
    assert browser.execute_script(DETAIL)["leaseUntil"] is None


def test_the_buttons_follow_the_state_and_the_kill_button_cascades(
    browser: Any, console_server: ConsoleServer, client: Client
) -> None:
    execution = client.create_execution(namespace="demo", flow_id="long")
    running = client.create_task_run(execution_id=execution.id, task_id="running").task_run
    waiting = client.create_task_run(execution_id=execution.id, task_id="waiting").task_run
    client.transition_task_run(running.id, state=State.RUNNING, worker_id="w")
    open_page(browser, f"{console_server.url}/executions/{execution.id}")
    wait_for(lambda: execution_state(browser) == "RUNNING", 5, "the page")
    assert shown_moves(browser) == ["pause", "kill"]  # no Resume of what runs

    # Pause and resume from the buttons: the pause is a gap in the execution's bar.
    browser.find_element("css selector", 'button[data-move="pause"]').click()
    wait_for(lambda: execution_state(browser) == "PAUSED", 2, "PAUSED")
    assert shown_moves(browser) == ["resume", "kill"]
    browser.find_element("css selector", 'button[data-move="resume"]').click()
    wait_for(lambda: execution_state(browser) == "RUNNING", 2, "RUNNING again")
    assert shown_moves(browser) == ["pause", "kill"]
    gap = "return document.querySelectorAll('.trow.execution .bar.gap[data-state=PAUSED]').length"
    assert browser.execute_script(gap) == 1

    browser.find_element("css selector", 'button[data-move="kill"]').click()

    def states() -> dict[str, str]:
        return {e["taskRun"]: e["state"] for e in timeline(browser) if e["kind"] == "task-run"}

    wait_for(lambda: execution_state(browser) == "KILLING", 2, "KILLING")
    wait_for(lambda: states() == {running.id: "KILLING", waiting.id: "KILLED"}, 2, "the cascade")
    assert shown_moves(browser) == []  # being killed: nothing to ask until it ends
    client.transition_task_run(running.id, state=State.KILLED, reason="stopped")
    wait_for(lambda: execution_state(browser) == "KILLED", 2, "KILLED")
    assert states() == {running.id: "KILLED", waiting.id: "KILLED"}
    actors = browser.execute_script(
        "return [...document.querySelectorAll('.hrow')].map(r => r.querySelector('.reason').textContent)"
    )
    assert "from the web console" in actors
    assert shown_moves(browser) == ["restart"]

    # Restarted, it may be killed again; once it succeeds, nothing is offered.
    browser.find_element("css selector", 'button[data-move="restart"]').click()
    wait_for(lambda: execution_state(browser) == "RESTARTED", 2, "RESTARTED")
    assert shown_moves(browser) == ["kill"]
    client.transition_task_run(running.id, state=State.RUNNING, worker_id="w")
    client.transition_task_run(running.id, state=State.SUCCESS)
    client.transition_task_run(waiting.id, state=State.RUNNING, worker_id="w")
    client.transition_task_run(waiting.id, state=State.SUCCESS)
    client.complete_execution(execution.id)
    wait_for(lambda: execution_state(browser) == "SUCCESS", 2, "SUCCESS")
    assert shown_moves(browser) == []
    assert browser.find_element("css selector", "#action-error").text == ""


def test_a_missing_execution_s_page_says_it_is_missing(
    browser: Any, console_server: ConsoleServer, client: Client
) -> None:
    browser.get(f"{console_server.url}/executions/no-such-execution")
    heading = wait_for(
        lambda: browser.find_element("css selector", ".execution-page h1").text, 5, "a heading"
    )
    assert heading == "Execution not found"
    page = browser.find_element("css selector", ".execution-page")
    assert "no-such-execution" in page.text and "EXECUTION_NOT_FOUND" in page.text, page.text
    # Nothing of an execution's page: no buttons, no empty timeline, history or metrics.
    assert browser.find_elements("css selector", ".execution-page button") == []
    assert [e.text for e in browser.find_elements("css selector", ".execution-page h2")] == []
    assert browser.title == "Execution not found · Statehouse"
    # The link back to the list still works.
    browser.find_element("css selector", ".execution-page nav a").click()
    wait_for(lambda: browser.find_elements("css selector", ".list-page"), 5, "the list")


def test_with_authentication_the_token_is_sent_and_the_buttons_follow_the_role(
    browser: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    ConsoleServer(url, tmp_path / "migrate.log").stop()  # the schema, for the offline tokens
    _, admin = issue_offline(url, name="root", role="admin", namespaces=["*"])
    _, reader = issue_offline(url, name="viewer", role="reader", namespaces=["*"])
    server = ConsoleServer(url, tmp_path / "server.log", options=("--auth",))
    try:
        with Client.connect(server.target, token=admin) as sdk:
            execution = sdk.create_execution(namespace="demo", flow_id="guarded").id
        browser.get(server.url + "/")
        browser.execute_script("localStorage.removeItem('statehouse.token')")
        browser.refresh()
        error = wait_for(
            lambda: browser.find_element("css selector", ".list-page .error").text, 5, "an error"
        )
        assert "token" in error, error

        browser.execute_script("localStorage.setItem('statehouse.token', arguments[0])", reader)
        open_page(browser, f"{server.url}/executions/{execution}")
        wait_for(lambda: execution_state(browser) == "CREATED", 5, "the page, as a reader")
        browser.find_element("css selector", 'button[data-move="kill"]').click()
        error = wait_for(
            lambda: browser.find_element("css selector", "#action-error").text, 3, "refused"
        )
        assert "PERMISSION_DENIED" in error or "role" in error.lower(), error
        assert shown_moves(browser) == []

        browser.execute_script("localStorage.setItem('statehouse.token', arguments[0])", admin)
        open_page(browser, f"{server.url}/executions/{execution}")
        wait_for(lambda: execution_state(browser) == "CREATED", 5, "the page, as an admin")
        assert shown_moves(browser) == ["kill"]  # what a CREATED execution accepts
        browser.find_element("css selector", 'button[data-move="kill"]').click()
        wait_for(lambda: execution_state(browser) == "KILLED", 3, "killed by the admin")
        actors = "return [...document.querySelectorAll('.hrow .actor')].map(e => e.textContent)"
        assert "root" in browser.execute_script(actors)
    finally:
        browser.execute_script("localStorage.removeItem('statehouse.token')")
        server.stop()


def test_the_pages_resume_after_a_server_restart_without_a_reload_a_duplicate_or_a_gap(
    browser: Any, console_server: ConsoleServer, client: Client
) -> None:
    before = [client.create_execution(namespace="demo", flow_id="r").id for _ in range(2)]
    open_page(browser, console_server.url + "/?namespace=demo")
    wait_for(lambda: set(list_rows(browser)) == set(before), 2, "the rows")
    browser.execute_script("window.__notReloaded = true")

    console_server.stop()
    wait_for(lambda: stream_status(browser) == "reconnecting", 10, "reconnecting")
    assert browser.find_element("css selector", "#stream").text == "reconnecting…"
    console_server.start()  # the same ports and database
    # Changes made before the page reconnects come with the resumed stream.
    with Client.connect(console_server.target) as again:
        after = [again.create_execution(namespace="demo", flow_id="r").id for _ in range(3)]
        run = again.create_task_run(execution_id=before[0], task_id="t").task_run
        again.transition_task_run(run.id, state=State.RUNNING, worker_id="w")
        wait_for(lambda: stream_status(browser) == "live", 15, "live again")
        expected = {**dict.fromkeys(before + after, "CREATED"), before[0]: "RUNNING"}
        wait_for(lambda: list_rows(browser) == expected, 3, "every row, once")
        assert browser.execute_script("return window.__notReloaded") is True

        # The execution page too.
        execution = before[0]
        browser.get(f"{console_server.url}/executions/{execution}")
        wait_for(lambda: execution_state(browser) == "RUNNING", 5, "the execution page")
        browser.execute_script("window.__notReloaded = true")
    console_server.restart()
    with Client.connect(console_server.target) as again:
        second = again.create_task_run(execution_id=execution, task_id="u").task_run
        again.transition_task_run(run.id, state=State.SUCCESS)
        wait_for(lambda: stream_status(browser) == "live", 15, "live again")
        wait_for(
            lambda: (
                [(e["kind"], e["taskRun"], e["state"]) for e in timeline(browser)]
                == [
                    ("execution", "", "RUNNING"),
                    ("task-run", run.id, "SUCCESS"),
                    ("task-run", second.id, "CREATED"),
                ]
            ),
            3,
            "the timeline, each task run once",
        )
    assert browser.execute_script("return window.__notReloaded") is True


def test_one_thousand_task_runs_render_virtualized(
    browser: Any, console_server: ConsoleServer, client: Client
) -> None:
    execution = client.create_execution(namespace="demo", flow_id="wide")
    ids = [
        client.create_task_run(execution_id=execution.id, task_id=f"task-{i:04d}").task_run.id
        for i in range(1000)
    ]
    for state in (State.RUNNING, State.SUCCESS):
        for start in range(0, 1000, 500):
            items = [
                {"task_run_id": i, "state": state, "worker_id": "w"}
                for i in ids[start : start + 500]
            ]
            if state == State.SUCCESS:
                items = items[:400]  # 200 task runs stay RUNNING: their bars grow
            client.transition_task_runs(items)
    browser.get(f"{console_server.url}/executions/{execution.id}")
    wait_for(
        lambda: browser.execute_script("return document.body.dataset.renderMs"),
        15,
        "the first render",
    )
    shown_at = float(browser.execute_script("return document.body.dataset.shownAtMs"))
    render_ms = float(browser.execute_script("return document.body.dataset.renderMs"))
    drawn = browser.execute_script("return document.querySelectorAll('.timeline .trow').length")
    assert 0 < drawn < 100, drawn  # only the visible rows are in the DOM
    # Scrolling to the end draws the last task run.
    browser.execute_script(
        "const s = document.querySelector('.timeline-rows'); s.scrollTop = s.scrollHeight"
    )
    wait_for(lambda: ids[-1] in {e["taskRun"] for e in timeline(browser)}, 3, "the last row")
    wait_for(
        lambda: browser.execute_script("return document.body.dataset.frameMs"), 3, "a clock tick"
    )
    frame_ms = float(browser.execute_script("return document.body.dataset.frameMs"))
    print(
        f"1,000 task runs: drawn in {render_ms:.1f} ms, on screen {shown_at:.0f} ms after the "
        f"navigation began; a clock tick redraws in {frame_ms:.1f} ms; {drawn} rows in the DOM"
    )
    assert render_ms < 1000 and frame_ms < 100 and shown_at < 5000


def _run(client: Client, task_run: str, end: State, pause: float = 0.15, **fields: Any) -> None:
    client.transition_task_run(task_run, state=State.RUNNING, worker_id="worker-1")
    time.sleep(pause)  # something to draw: the screenshots show durations
    client.transition_task_run(task_run, state=end, **fields)


@pytest.mark.skipif(not os.environ.get("STATEHOUSE_SCREENSHOTS"), reason="make screenshots")
def test_screenshots(browser: Any, console_server: ConsoleServer, client: Client) -> None:
    directory = Path(os.environ["STATEHOUSE_SCREENSHOTS"])
    directory.mkdir(parents=True, exist_ok=True)
    flows = [("etl", "nightly"), ("billing", "invoices"), ("etl", "hourly"), ("ml", "train")]
    outcomes = ["success", "failed", "killed", "running", "success", "success", "failed", "created"]
    for number, outcome in enumerate(outcomes):
        namespace, flow = flows[number % len(flows)]
        execution = client.create_execution(
            namespace=namespace, flow_id=flow, labels={"env": "prod", "team": namespace}
        )
        if outcome == "created":
            continue
        extract, transform = (
            client.create_task_run(execution_id=execution.id, task_id=task).task_run.id
            for task in ("extract", "transform")
        )
        _run(client, extract, State.SUCCESS, outputs={"rows": 100 + number})
        if outcome == "failed":
            _run(client, transform, State.FAILED, reason="bad row 42")
            client.complete_execution(execution.id)
        elif outcome == "killed":
            client.transition_task_run(transform, state=State.RUNNING, worker_id="worker-2")
            client.kill_execution(execution.id, reason="operator")
            client.transition_task_run(transform, state=State.KILLED, reason="stopped")
        elif outcome == "running":
            client.transition_task_run(transform, state=State.RUNNING, worker_id="worker-2")
        else:
            _run(client, transform, State.SUCCESS)
            client.complete_execution(execution.id)

    # The execution shown: a retry, a pause, metrics, one task run still running.
    shown = client.create_execution(
        namespace="etl", flow_id="nightly", labels={"env": "prod"}, inputs={"day": "2026-12-01"}
    ).id
    policy = TaskRetryPolicy.constant(interval="300ms", max_attempts=3)
    runs = [
        client.create_task_run(execution_id=shown, task_id=task, retry_policy=policy).task_run.id
        for task in ("extract", "validate", "transform", "load", "report")
    ]
    client.transition_task_run(runs[0], state=State.RUNNING, worker_id="worker-1")
    time.sleep(0.2)
    failed = client.transition_task_run(runs[0], state=State.FAILED, reason="connection reset")
    time.sleep(
        max(0.0, failed.task_run.next_attempt_time.ToDatetime().timestamp() - time.time()) + 0.05
    )
    client.transition_task_run(runs[0], state=State.RUNNING, worker_id="worker-2")
    # A metric is one value per task run attempt, name and tags: a chart draws them all.
    for table, rows in (("users", 120), ("orders", 480), ("items", 260), ("events", 900)):
        client.record_metrics(
            runs[0],
            metrics=[counter("rows", rows, tags={"table": table}), timer("fetch", rows / 600)],
        )
    time.sleep(0.3)
    client.transition_task_run(runs[0], state=State.SUCCESS, outputs={"rows": 640})
    _run(client, runs[1], State.SUCCESS, pause=0.2)
    client.transition_task_run(runs[2], state=State.RUNNING, worker_id="worker-1")
    client.pause_execution(shown, reason="waiting for approval")
    time.sleep(0.4)
    client.resume_execution(shown, reason="approved")
    for task_run, took in ((runs[1], 300), (runs[2], 520)):
        client.record_metrics(task_run, metrics=[timer("batch", timedelta(milliseconds=took))])
    time.sleep(0.2)
    client.transition_task_run(runs[2], state=State.SUCCESS)
    client.transition_task_run(runs[3], state=State.RUNNING, worker_id="worker-3")

    open_page(browser, console_server.url + "/")
    wait_for(lambda: len(list_rows(browser)) == len(outcomes) + 1, 5, "the rows")
    browser.save_screenshot(str(directory / "console-list.png"))
    browser.set_window_size(1400, 1300)
    try:
        open_page(browser, f"{console_server.url}/executions/{shown}")
        wait_for(
            lambda: browser.execute_script(
                "return document.querySelectorAll('#metrics figure').length"
            ),
            5,
            "the metrics",
        )
        time.sleep(1.0)  # the running bar grows for a second
        browser.save_screenshot(str(directory / "console-execution.png"))
    finally:
        browser.set_window_size(1400, 1000)
