"""End-to-end: the dashboard in a real headless chromium against a real server."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# Playwright evaluates predicates written as functions over CDP; plain expression
# strings would go through eval(), which the page's CSP (default-src 'self') refuses.
FRAMES_OVER = "(n) => window.dashboard && window.dashboard.state.frames > n"


def _open(page, server, frames: int = 2):
    page.goto(server.base + "/")
    page.wait_for_function(FRAMES_OVER, arg=frames, timeout=20_000)


def _positions(page) -> list[int]:
    return page.evaluate("() => Array.from(window.dashboard.world.agents.positions)")


def test_root_serves_the_page(dev_server):
    import urllib.request

    with urllib.request.urlopen(dev_server.base + "/") as res:
        html = res.read().decode()
    assert '<script type="module" src="/static/js/main.js">' in html
    with urllib.request.urlopen(dev_server.base + "/static/js/world.js") as res:
        assert "javascript" in res.headers["content-type"]
        assert b"class WorldView" in res.read()


def test_page_loads_and_agents_move(page, dev_server, screenshot):
    _open(page, dev_server)
    assert page.locator("#status").inner_text() == "running"
    assert page.evaluate("() => window.dashboard.world.agents.n") == 100
    first = _positions(page)
    frames = page.evaluate("() => window.dashboard.state.frames")
    page.wait_for_function(FRAMES_OVER, arg=frames + 5, timeout=10_000)
    assert _positions(page) != first, "no agent moved in five frames"
    assert page.evaluate("() => window.dashboard.world.drawCount") > 1
    # the canvas really holds agent colours (explorers are sky blue) over the layout
    blue = page.evaluate(
        """() => {
            const c = document.getElementById('world');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4)
                if (d[i] === 86 && d[i + 1] === 180 && d[i + 2] === 233) n++;
            return n;
        }"""
    )
    assert blue > 100
    screenshot(page, "world")


def test_pause_and_step(page, dev_server, screenshot):
    _open(page, dev_server)
    page.click("#run")  # Pause
    page.wait_for_function(
        "() => document.getElementById('status').textContent === 'paused'", timeout=10_000
    )
    page.wait_for_timeout(600)  # a frame of the last running tick may still be in flight
    tick = int(page.locator("#tick").inner_text())
    page.wait_for_timeout(1500)
    assert int(page.locator("#tick").inner_text()) == tick, "ticks went on while paused"
    page.fill("#step-n", "3")
    page.click("#step")
    page.wait_for_function(
        "(t) => Number(document.getElementById('tick').textContent) === t", arg=tick + 3,
        timeout=10_000,
    )  # fmt: skip
    screenshot(page, "paused-after-step")
    page.click("#run")  # Start again for the other tests
    page.wait_for_function(
        "() => document.getElementById('status').textContent === 'running'", timeout=10_000
    )


def test_click_agent_opens_beliefs(page, dev_server, screenshot):
    _open(page, dev_server)
    page.click("#run")  # pause so the agent stays where we click
    page.wait_for_function(
        "() => document.getElementById('status').textContent === 'paused'", timeout=10_000
    )
    page.wait_for_timeout(600)
    agent_id, x, y = page.evaluate(
        """() => {
            const w = window.dashboard.world, a = w.agents;
            const i = Math.floor(a.n / 2);
            return [a.ids[i], ...w.cellToClient(a.positions[2 * i], a.positions[2 * i + 1])];
        }"""
    )
    page.mouse.click(x, y)
    page.wait_for_selector("#belief-heatmap", timeout=10_000)
    assert page.evaluate("() => window.dashboard.state.selected") == agent_id
    assert f"Agent {agent_id}" in page.locator("#agent-body").inner_text()
    # a 9x9 egocentric map (radius 4) and the expected free energy of the five moves
    side = page.evaluate("() => window.dashboard.world.beliefs.side")
    assert side % 2 == 1 and side > 1
    assert page.locator("#efe-bars .bar-row").count() == 5
    assert "role" in page.locator("#agent-body").inner_text()
    screenshot(page, "agent-beliefs")
    page.click("#run")
    page.wait_for_function(
        "() => document.getElementById('status').textContent === 'running'", timeout=10_000
    )


def test_knowledge_graph_renders_nodes(page, dev_server, screenshot):
    _open(page, dev_server)
    page.wait_for_timeout(1500)  # the demo records coalitions and locations every 10 ticks
    page.click("text=Knowledge graph")
    page.wait_for_function("() => window.dashboard.graph.nodes.length > 0", timeout=20_000)
    assert page.locator("#graph-filters input").count() >= 1
    node = page.evaluate(
        "() => window.dashboard.graph.nodes.find((n) => n.type !== 'agent') || "
        "window.dashboard.graph.nodes[0]"
    )
    x, y = page.evaluate("(id) => window.dashboard.graph.nodeToClient(id)", node["id"])
    page.mouse.click(x, y)
    page.wait_for_selector("#node-properties", timeout=10_000)
    assert '"created_tick"' in page.locator("#node-properties").inner_text()
    screenshot(page, "knowledge-graph")
    # filtering a type out hides its nodes
    page.uncheck(f"#graph-filters input[data-type='{node['type']}']")
    assert page.evaluate("(t) => window.dashboard.graph.hidden.has(t)", node["type"])


def test_login_with_api_key_when_auth_is_on(page, auth_server, api_keys, screenshot):
    page.goto(auth_server.base + "/")
    page.wait_for_selector("#login:not(.hidden)", timeout=10_000)
    page.fill("#login-secret", "not-a-key-at-all-000")
    page.click("#login-form button[type=submit]")
    page.wait_for_function(
        "() => document.getElementById('login-error').textContent.length > 0", timeout=10_000
    )
    key = next(k for k, role in api_keys.items() if role == "operator")
    page.fill("#login-secret", key)
    page.click("#login-form button[type=submit]")
    page.wait_for_function(FRAMES_OVER, arg=2, timeout=20_000)
    assert page.locator("#login").is_hidden()
    assert "operator" in page.locator("#user").inner_text()
    assert page.locator("#dev-warning").is_hidden()
    screenshot(page, "logged-in")


def test_viewer_cannot_use_controls(page, auth_server, api_keys):
    key = next(k for k, role in api_keys.items() if role == "viewer")
    page.goto(auth_server.base + "/")
    page.wait_for_selector("#login:not(.hidden)", timeout=10_000)
    page.fill("#login-secret", key)
    page.click("#login-form button[type=submit]")
    page.wait_for_function(FRAMES_OVER, arg=1, timeout=20_000)
    assert page.locator("#run").is_disabled()
    assert page.locator("#formation").is_disabled()


def test_frozen_world_shows_a_warning_banner(page, dev_server, screenshot):
    import json
    import urllib.request

    frozen = {  # three agents filling a 1 x 3 corridor: nobody can ever move
        "world": {"height": 1, "width": 3, "wall_density": 0.0, "n_goals": 0},
        "agents": {"explorer": 3},
        "simulation": {"stuck_ticks": 3},
    }
    body = json.dumps({"name": "frozen", "scenario": frozen, "start": True}).encode()
    request = urllib.request.Request(
        dev_server.base + "/api/v1/simulations",
        data=body,
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as res:
        sim_id = json.loads(res.read())["id"]
    try:
        page.goto(f"{dev_server.base}/?sim={sim_id}")
        page.wait_for_selector("#activity-warning:not(.hidden)", timeout=20_000)
        banner = page.locator("#activity-warning").inner_text()
        assert "world frozen" in banner and "3 of 3 agents have not moved" in banner
        assert page.locator("#moving").inner_text() == "0%"
        assert page.locator("#alive").inner_text() == "3/3"
        screenshot(page, "frozen-warning")
    finally:
        delete = urllib.request.Request(
            f"{dev_server.base}/api/v1/simulations/{sim_id}", method="DELETE"
        )
        urllib.request.urlopen(delete).close()


def test_a_simulation_that_resumed_after_a_failover_says_so(page, dev_server, screenshot):
    _open(page, dev_server)
    assert page.locator("#restored").is_hidden()  # never restored

    def resumed(route) -> None:  # the summary of a simulation whose host died twice
        answer = route.fetch()
        body = {**answer.json(), "failovers": 2, "ticks_lost": 7}
        route.fulfill(response=answer, json=body)

    page.route("**/api/v1/simulations/*", resumed)
    page.wait_for_selector("#restored:not(.hidden)", timeout=10_000)  # polled every second
    assert page.locator("#restored").inner_text() == "failover ×2 · 7 ticks lost"
    screenshot(page, "failover")
