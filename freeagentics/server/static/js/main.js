// The dashboard's entry point: log in if needed, pick a simulation, wire the live
// socket to the views, and the buttons to the REST API.

import { AgentPanel } from "./agent.js";
import { api, ApiError, decodeTyped, login, logout } from "./api.js";
import { Series, drawChart } from "./charts.js";
import { GraphView } from "./graph.js";
import { NONE_RGB, colourOf, rgbToCss } from "./palette.js";
import { WorldView } from "./world.js";
import { LiveSocket } from "./ws.js";

const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  warnings: [], // codes of the activity warnings shown (frozen, stuck, dying)
  simId: null,
  sim: null, // the latest GET /simulations/{id}
  tick: 0,
  frames: 0, // world frames received (tests wait on this)
  ticksSeen: [], // [time, tick] of recent world frames, for ticks per second
  selected: null,
  detailTick: -1,
  turbo: 1, // ticks per step of a dashboard-driven run (1: the server's own runner)
  turboRunning: false,
  graphVersion: -1,
  graphLoadedVersion: -2,
};

const world = new WorldView($("world"));
const panel = new AgentPanel($("agent-body"));
const graph = new GraphView($("graph"), $("graph-info"), $("graph-filters"));
const charts = {
  tps: new Series(),
  tickMs: new Series(),
  agents: new Series(),
  moving: new Series(),
  alive: new Series(),
  clients: new Series(),
  memory: new Series(),
};
const socket = new LiveSocket({
  onFrame: (topic, frame) => onFrame(topic, frame),
  onStatus: (text, ok) => {
    $("live").textContent = text;
    $("live").classList.toggle("bad", !ok);
  },
});
window.dashboard = { state, world, graph, panel, charts, socket, selectAgent };

function say(text, bad = false) {
  const m = $("message");
  m.textContent = text;
  m.classList.toggle("bad", bad);
}

/** Run an API action from a button; 401 brings the login prompt back. */
async function act(label, fn) {
  try {
    const result = await fn();
    return result;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin(err.detail);
    say(`${label}: ${err.message}`, true);
    return undefined;
  }
}

// ------------------------------------------------------------------ login
function showLogin(reason) {
  $("login").classList.remove("hidden");
  $("login-error").textContent = reason || "";
  $("login-secret").focus();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await login($("login-secret").value);
    $("login-secret").value = "";
    $("login").classList.add("hidden");
    boot();
  } catch (err) {
    $("login-error").textContent = err.message;
  }
});
$("logout").addEventListener("click", () => {
  logout();
  socket.close();
  location.reload();
});

// ------------------------------------------------------------------ simulations
async function boot() {
  try {
    state.me = await api("auth/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin();
    return say(`cannot reach the server: ${err.message}`, true);
  }
  $("user").textContent = `${state.me.name} · ${state.me.role}`;
  $("logout").classList.toggle("hidden", state.me.name === "anonymous-dev");
  $("dev-warning").classList.toggle("hidden", state.me.name !== "anonymous-dev");
  const canOperate = state.me.role !== "viewer";
  for (const b of document.querySelectorAll(".operator")) b.disabled = !canOperate;
  if (!canOperate) say("viewer role: watching only");
  await refreshSimulations();
  setInterval(poll, 1000);
  setInterval(pollServerMetrics, 2000);
  pollServerMetrics();
}

async function refreshSimulations(preferred) {
  const sims = await act("simulations", () => api("simulations"));
  if (!sims) return;
  const select = $("sim");
  select.replaceChildren(
    ...sims.map((s) => {
      const o = document.createElement("option");
      o.value = s.id;
      o.textContent = `${s.id} · ${s.name} (${s.agents} agents)`;
      return o;
    }),
  );
  $("no-sim").classList.toggle("hidden", sims.length > 0);
  if (!sims.length) return;
  const wanted = Number(preferred ?? new URLSearchParams(location.search).get("sim"));
  const pick =
    sims.find((s) => s.id === wanted) || sims.find((s) => s.status === "running") || sims[0];
  select.value = pick.id;
  await selectSimulation(pick.id);
}

$("sim").addEventListener("change", () => selectSimulation(Number($("sim").value)));

async function selectSimulation(id) {
  stopTurbo();
  socket.close();
  state.simId = id;
  state.ticksSeen = [];
  state.graphLoadedVersion = -2;
  selectAgent(null);
  showActivity(null);
  for (const s of Object.values(charts)) s.clear();
  await refreshSim();
  await refreshLayout();
  socket.connect(id);
  for (const topic of ["world", "metrics", "coalitions", "knowledge"]) socket.subscribe(topic);
  refreshCoalitions();
  if (!$("graph-view").classList.contains("hidden")) loadGraph();
}

async function refreshSim() {
  const sim = await act("simulation", () => api(`simulations/${state.simId}`));
  if (!sim) return;
  state.sim = sim;
  $("status").textContent = state.turboRunning ? `running ×${state.turbo}` : sim.status;
  $("status").dataset.status = state.turboRunning ? "running" : sim.status;
  showRestored(sim);
  const running = sim.status === "running" || state.turboRunning;
  $("run").textContent = running ? "Pause" : "Start";
  $("step").disabled = running || state.me.role === "viewer";
  // kinds for "add agents", keeping the user's choice
  const kinds = Object.keys(sim.kinds);
  const sel = $("add-kind");
  if ([...sel.options].map((o) => o.value).join() !== kinds.join()) {
    sel.replaceChildren(...kinds.map((k) => Object.assign(document.createElement("option"), { value: k, textContent: k })));
  }
  if (!state.tick) setTick(sim.tick);
}

/** After a restore from a checkpoint (the server restarted, or the simulation's host
 * died and it resumed elsewhere): how often, and the ticks the last one lost. */
function showRestored(sim) {
  const badge = $("restored");
  const restored = sim.ticks_lost !== null && sim.ticks_lost !== undefined;
  badge.classList.toggle("hidden", !restored);
  if (!restored) return;
  const lost = `${sim.ticks_lost} tick${sim.ticks_lost === 1 ? "" : "s"} lost`;
  badge.textContent = sim.failovers
    ? `failover ×${sim.failovers} · ${lost}`
    : `restored · ${lost}`;
}

async function refreshLayout() {
  const w = await act("world", () => api(`simulations/${state.simId}/world`));
  if (!w) return;
  world.setLayout({
    height: w.height,
    width: w.width,
    cells: decodeTyped(w.cells),
    resourceCells: decodeTyped(w.resource_cells),
    resourceAmounts: decodeTyped(w.resource_amounts),
  });
  state.resourceNames = w.resource_names;
}

// ------------------------------------------------------------------ live frames
function setTick(tick) {
  state.tick = tick;
  $("tick").textContent = tick;
}

function onFrame(topic, frame) {
  const d = frame.data;
  if (topic === "world") {
    const now = performance.now() / 1000;
    state.frames++;
    setTick(frame.tick);
    state.kindNames = d.kind_names;
    world.setAgents({
      n: d.n,
      tick: frame.tick,
      ids: decodeTyped(d.ids),
      kinds: decodeTyped(d.kinds),
      positions: decodeTyped(d.positions),
      coalition: decodeTyped(d.coalition),
      energy: decodeTyped(d.energy),
    });
    // ticks per second over the last ~3 s of frames
    state.ticksSeen.push([now, frame.tick]);
    while (state.ticksSeen.length > 2 && now - state.ticksSeen[0][0] > 3) state.ticksSeen.shift();
    const [t0, k0] = state.ticksSeen[0];
    const tps = now > t0 ? (frame.tick - k0) / (now - t0) : 0;
    $("tps").textContent = tps.toFixed(1);
    charts.tps.push(now, tps);
    charts.agents.push(now, d.n);
    renderLegend();
  } else if (topic === "metrics") {
    const ms = Object.values(d.timings || {}).reduce((a, b) => a + b, 0) * 1000;
    charts.tickMs.push(performance.now() / 1000, ms);
    showActivity(d.activity);
    if (d.activity && d.activity.agents) {
      charts.moving.push(performance.now() / 1000, d.activity.moving_fraction_avg);
      charts.alive.push(performance.now() / 1000, d.activity.alive_fraction);
    }
  } else if (topic === "coalitions") {
    if (d.changes && Object.values(d.changes).some((v) => v.length)) refreshCoalitions();
  } else if (topic === "knowledge") {
    state.graphVersion = d.version;
    $("graph-stale").classList.toggle("hidden", state.graphVersion === state.graphLoadedVersion);
  } else if (topic === "agent" && frame.agent_id === state.selected) {
    panel.pushTick(frame.tick, d.metrics);
  }
  drawCharts();
}

/** Moving and alive agents in the header; a banner while the world is frozen, agents
 * are stuck or dying (the server decides, see ActivityTracker), instead of a world that
 * silently stands still while the header says "running". */
function showActivity(a) {
  const banner = $("activity-warning");
  const warnings = (a && a.warnings) || [];
  state.warnings = warnings.map((w) => w.code);
  $("moving").textContent = a && a.agents ? `${Math.round(100 * a.moving_fraction_avg)}%` : "–";
  $("alive").textContent = a && a.agents ? `${a.alive}/${a.agents}` : "–";
  banner.classList.toggle("hidden", warnings.length === 0);
  banner.replaceChildren(
    ...warnings.map((w) => Object.assign(document.createElement("span"), { textContent: w.message, className: `warning-${w.code}` })),
  );
}

let chartsQueued = false;
function drawCharts() {
  // at most once per animation frame, whatever the frame rate of the socket
  if (chartsQueued) return;
  chartsQueued = true;
  requestAnimationFrame(() => {
    chartsQueued = false;
    drawChart($("chart-tps"), "throughput (ticks/s)", [{ series: charts.tps, colour: "#56b4e9" }]);
    drawChart($("chart-tick"), "tick time", [{ series: charts.tickMs, colour: "#e69f00" }], " ms");
    drawChart($("chart-agents"), "agents", [{ series: charts.agents, colour: "#009e73" }]);
    drawChart($("chart-activity"), "moving · alive (share of agents)", [
      { series: charts.moving, colour: "#e69f00" },
      { series: charts.alive, colour: "#009e73" },
    ]);
    drawChart($("chart-clients"), "WebSocket clients", [{ series: charts.clients, colour: "#cc79a7" }]);
    drawChart($("chart-memory"), "server memory (RSS)", [{ series: charts.memory, colour: "#f0e442" }], " MB");
  });
}

function renderLegend() {
  const key = `${world.colourBy}|${state.kindNames.join()}`;
  if (state.legendKey === key) return;
  state.legendKey = key;
  const items =
    world.colourBy === "kind"
      ? state.kindNames.map((k, i) => [k, colourOf(i)])
      : [["no coalition", NONE_RGB], ["coalition (colour = id mod 12)", colourOf(0)]];
  const cells = [["wall", [120, 126, 138]], ["goal", [214, 178, 54]], ["hazard", [150, 42, 42]], ["resource", [34, 110, 58]]];
  $("legend").replaceChildren(
    ...[...items, ...cells].map(([name, rgb]) => {
      const s = document.createElement("span");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = rgbToCss(rgb);
      s.append(sw, document.createTextNode(name));
      return s;
    }),
  );
}

// ------------------------------------------------------------------ polling
async function poll() {
  if (state.simId === null) return;
  await refreshSim();
  if (state.selected !== null && state.tick !== state.detailTick) await refreshAgent();
  // resources deplete and regrow: refresh their shading now and then
  if (Date.now() - (state.layoutAt || 0) > 5000) {
    state.layoutAt = Date.now();
    refreshLayout();
  }
}

async function pollServerMetrics() {
  try {
    const text = await (await fetch("/metrics")).text();
    const value = (name) => {
      const m = text.match(new RegExp(`^${name} ([0-9.e+-]+)$`, "m"));
      return m ? Number(m[1]) : null;
    };
    const now = performance.now() / 1000;
    charts.clients.push(now, value("freeagentics_websocket_connections"));
    const rss = value("process_resident_memory_bytes");
    if (rss !== null) charts.memory.push(now, rss / 1e6);
    drawCharts();
  } catch {
    // the charts simply pause
  }
}

// ------------------------------------------------------------------ agents
function selectAgent(id) {
  if (state.selected !== null) socket.unsubscribe("agent", state.selected);
  state.selected = id;
  state.detailTick = -1;
  world.selected = id;
  world.beliefs = null;
  world.dirty = true;
  $("agent").classList.toggle("hidden", id === null);
  if (id === null) return;
  panel.reset(id);
  $("agent-body").textContent = "loading…";
  socket.subscribe("agent", id);
  refreshAgent();
}

async function refreshAgent() {
  const id = state.selected;
  try {
    const d = await api(`simulations/${state.simId}/agents/${id}?history=64`);
    if (id !== state.selected) return;
    state.detailTick = d.tick;
    world.beliefs = panel.render(d);
    world.dirty = true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      say(`agent ${id} left the simulation`);
      selectAgent(null);
    }
  }
}

world.onPick = (id) => selectAgent(id);
$("agent-close").addEventListener("click", () => selectAgent(null));

// ------------------------------------------------------------------ coalitions
async function refreshCoalitions() {
  const list = await act("coalitions", () => api(`simulations/${state.simId}/coalitions`));
  if (!list) return;
  $("coalition-count").textContent = list.length;
  $("coalitions").replaceChildren(
    ...list.map((c) => {
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = rgbToCss(colourOf(c.id % 12));
      li.append(sw, document.createTextNode(`#${c.id} · ${c.size} members · leader ${c.leader ?? "–"} · objective ${c.objective}`));
      li.addEventListener("click", () => showCoalition(c.id));
      return li;
    }),
  );
}

async function showCoalition(id) {
  const c = await act("coalition", () => api(`simulations/${state.simId}/coalitions/${id}`));
  if (!c) return;
  world.highlight = new Set(c.members);
  world.dirty = true;
  if (world.colourBy !== "coalition") setColourBy("coalition");
  const target = c.target ? ` · target (${c.target.map((v) => v.toFixed(1)).join(", ")})` : "";
  $("coalition-info").textContent = `coalition #${c.id}: members ${c.members.join(", ")}${target}`;
}

// ------------------------------------------------------------------ controls
function setColourBy(mode) {
  $("colour-by").value = mode;
  world.setColourBy(mode);
  renderLegend();
}
$("colour-by").addEventListener("change", () => setColourBy($("colour-by").value));
$("fit").addEventListener("click", () => world.fit());

$("run").addEventListener("click", async () => {
  const status = state.sim ? state.sim.status : "";
  if (state.turboRunning) {
    stopTurbo();
  } else if (status === "running") {
    await act("pause", () => api(`simulations/${state.simId}/pause`, { method: "POST" }));
  } else if (state.turbo > 1) {
    startTurbo();
  } else if (status === "created") {
    await act("start", () => api(`simulations/${state.simId}/start`, { method: "POST" }));
  } else if (status === "paused") {
    await act("resume", () => api(`simulations/${state.simId}/resume`, { method: "POST" }));
  }
  refreshSim();
});

// The hub sends at most one world frame per frame interval (10 Hz by default) and
// skips the rest, so the last tick of a burst of n would never be drawn. Stepping n-1
// ticks, waiting past the interval, then stepping the last one makes sure it is.
const FRAME_GAP_MS = 250;

$("step").addEventListener("click", async () => {
  const n = Math.max(1, Number($("step-n").value) || 1);
  const step = (k) => api(`simulations/${state.simId}/step`, { method: "POST", body: { n: k } });
  const sim = await act("step", async () => {
    if (n > 1) {
      await step(n - 1);
      await new Promise((r) => setTimeout(r, FRAME_GAP_MS));
    }
    return step(1);
  });
  if (sim) {
    setTick(sim.tick);
    say(`stepped to tick ${sim.tick}`);
  }
  refreshSim();
});

// Speed: the server runs every simulation at its own tick rate. Faster than that, the
// dashboard drives the simulation itself: it keeps it paused and asks for `speed` ticks
// per interval, so ×10 is ten ticks per server-rate interval (as fast as ticks allow).
$("speed").addEventListener("change", async () => {
  state.turbo = Number($("speed").value);
  if (state.turboRunning && state.turbo === 1) {
    stopTurbo();
    await act("resume", () => api(`simulations/${state.simId}/resume`, { method: "POST" }));
  }
  refreshSim();
});

async function startTurbo() {
  if (state.sim.status === "running") {
    await act("pause", () => api(`simulations/${state.simId}/pause`, { method: "POST" }));
  }
  state.turboRunning = true;
  const simId = state.simId;
  while (state.turboRunning && state.simId === simId) {
    const t0 = performance.now();
    // frames show the first tick of each batch (see FRAME_GAP_MS): k-1 ticks of lag at most
    const sim = await act("step", () => api(`simulations/${simId}/step`, { method: "POST", body: { n: state.turbo } }));
    if (!sim) break;
    setTick(sim.tick);
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - t0))));
  }
  state.turboRunning = false;
}

function stopTurbo() {
  state.turboRunning = false;
}

$("add").addEventListener("click", async () => {
  const kind = $("add-kind").value;
  const count = Math.max(1, Number($("add-count").value) || 1);
  const r = await act("add agents", () =>
    api(`simulations/${state.simId}/agents`, { method: "POST", body: { kind, count } }),
  );
  if (r) say(`added ${r.ids.length} ${kind}${r.ids.length === 1 ? "" : "s"}`);
});

$("formation").addEventListener("click", async () => {
  const r = await act("formation", () =>
    api(`simulations/${state.simId}/coalitions/formation`, { method: "POST" }),
  );
  if (!r) return;
  say(`coalitions re-formed at tick ${r.tick}: ${r.events} changes, ${r.coalitions.length} coalitions`);
  refreshCoalitions();
});

$("create-demo").addEventListener("click", async () => {
  const scenario = {
    world: { height: 32, width: 32, energy_cost_per_move: 0.02, resources: [{ name: "food", density: 0.08, regrowth: 0.05 }] },
    agents: { explorer: 40, collector: 40, coordinator: 20 },
    coalitions: { auto_objectives: 3, objective_capacity: 8 },
  };
  const sim = await act("create", () => api("simulations", { method: "POST", body: { name: "dashboard", scenario, start: true } }));
  if (sim) refreshSimulations(sim.id);
});

// ------------------------------------------------------------------ tabs and graph
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
    const graphView = tab.dataset.view === "graph";
    $("world-view").classList.toggle("hidden", graphView);
    $("graph-view").classList.toggle("hidden", !graphView);
    if (graphView && state.graphLoadedVersion !== state.graphVersion) loadGraph();
    if (!graphView) world.resize();
  });
}
$("graph-refresh").addEventListener("click", () => loadGraph());

async function loadGraph() {
  const version = state.graphVersion;
  $("graph-info").textContent = "loading…";
  const r = await act("knowledge graph", () => graph.load(state.simId));
  if (!r) return;
  state.graphLoadedVersion = version;
  $("graph-stale").classList.toggle("hidden", true);
  $("graph-info").textContent = `${r.nodes} nodes and ${r.edges} edges shown (of ${graph.stats.nodes} and ${graph.stats.edges}); click a node`;
}

boot();
