// The agent panel: beliefs as a heat map, expected free energy per action, and
// free energy / entropy over time.
//
// The model's hidden state is egocentric: where the agent's target lies relative to it,
// (2r+1)² offsets labelled d<row><col>, row-major from (-r, -r). A square belief vector
// is therefore drawn as a (2r+1)×(2r+1) map with the agent at its centre (and the same
// map is overlaid on the world). Other factors (custom kinds) are drawn as bars.

import { Series, drawChart } from "./charts.js";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Side of the square a belief vector fills, or 0 when it is not an odd square. */
export function squareSide(values) {
  const side = Math.round(Math.sqrt(values.length));
  return side * side === values.length && side % 2 === 1 && side > 1 ? side : 0;
}

function entropy(p) {
  let h = 0;
  for (const v of p) if (v > 0) h -= v * Math.log(v);
  return h;
}

function heatColour(t) {
  // dark blue -> orange -> yellow: monotone in lightness so it reads in greyscale too
  const r = Math.round(20 + 235 * Math.min(1, t * 1.4));
  const g = Math.round(20 + 200 * Math.max(0, t - 0.35) / 0.65);
  const b = Math.round(60 + 60 * (1 - t));
  return `rgb(${r}, ${g}, ${b})`;
}

function drawHeatMap(canvas, values, side) {
  const cell = Math.max(4, Math.floor(180 / side));
  canvas.width = canvas.height = cell * side;
  const ctx = canvas.getContext("2d");
  let max = 0;
  for (const v of values) max = Math.max(max, v);
  for (let i = 0; i < values.length; i++) {
    ctx.fillStyle = heatColour(max > 0 ? values[i] / max : 0);
    ctx.fillRect((i % side) * cell, Math.floor(i / side) * cell, cell, cell);
  }
  // the agent sits at the centre
  const mid = ((side - 1) / 2) * cell;
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 2;
  ctx.strokeRect(mid + 1, mid + 1, cell - 2, cell - 2);
}

function bars(labels, values, { signed = false, highlight = -1 } = {}) {
  const box = el("div", "bars");
  const max = Math.max(...values.map((v) => Math.abs(v)), 1e-12);
  values.forEach((v, i) => {
    const row = el("div", "bar-row" + (i === highlight ? " best" : ""));
    row.append(el("span", "bar-label", labels[i] ?? String(i)));
    const track = el("span", "bar-track");
    const fill = el("span", "bar-fill" + (signed && v < 0 ? " neg" : ""));
    fill.style.width = `${(100 * Math.abs(v)) / max}%`; // CSSOM: allowed by the page's CSP
    track.append(fill);
    row.append(track, el("span", "bar-value", v.toFixed(3)));
    box.append(row);
  });
  return box;
}

export class AgentPanel {
  constructor(root) {
    this.root = root;
    this.freeEnergy = new Series(256);
    this.entropy = new Series(256);
    this.agentId = null;
  }

  reset(agentId) {
    this.agentId = agentId;
    this.freeEnergy.clear();
    this.entropy.clear();
  }

  /** Per-tick metrics from the WebSocket's agent topic. */
  pushTick(tick, metrics) {
    if (!metrics) return;
    if (metrics.free_energy !== undefined) this.freeEnergy.push(tick, metrics.free_energy);
    if (metrics.belief_entropy !== undefined && !this.entropy.x.includes(tick)) {
      this.entropy.push(tick, metrics.belief_entropy);
    }
    this.drawCharts();
  }

  /** Render GET .../agents/{id}?history=N; returns the heat map for the world overlay. */
  render(d) {
    const root = this.root;
    root.replaceChildren();
    // backfill entropy over time from the bounded belief history (one entry per tick)
    if (this.entropy.x.length < 2 && d.history.length) {
      const t0 = d.tick - d.history.length + 1;
      this.entropy.clear();
      d.history.forEach((b, i) => this.entropy.push(t0 + i, entropy(b)));
    }
    if (d.metrics.free_energy !== undefined) {
      if (!this.freeEnergy.x.includes(d.tick)) this.freeEnergy.push(d.tick, d.metrics.free_energy);
    }
    const head = el("div", "agent-head");
    head.append(el("strong", null, `Agent ${d.id}`), el("span", "pill", d.kind));
    const coalition = d.coalition >= 0 ? `coalition ${d.coalition}` : "no coalition";
    head.append(el("span", "muted", `${coalition} · role ${d.role}`));
    root.append(head);
    root.append(
      el("div", "muted", `tick ${d.tick} · cell (${d.position.join(", ")}) · energy ${d.energy.toFixed(2)}`),
    );
    let overlay = null;
    d.beliefs.forEach(({ factor, states, p: values }, f) => {
      const side = squareSide(values);
      root.append(el("h4", null, d.beliefs.length > 1 ? `Beliefs: ${factor}` : "Beliefs: where the target lies"));
      if (side) {
        const canvas = el("canvas", "heatmap");
        canvas.id = f === 0 ? "belief-heatmap" : "";
        drawHeatMap(canvas, values, side);
        root.append(canvas);
        if (!overlay) overlay = { side, values };
      } else {
        root.append(bars(states, values));
      }
    });
    // the engine stores G as pymdp does, q(π) = σ(γG): the negative expected free energy
    const efe = d.G.map((g) => -g);
    const best = efe.indexOf(Math.min(...efe));
    // each policy by the controls of its first step (π index where they are not named)
    const labels = d.G.map((_, i) => {
      const plan = d.policies.plans[i];
      return plan && plan.length ? plan[0].join("+") : `π${i}`;
    });
    root.append(el("h4", null, "Expected free energy per action (lowest is chosen)"));
    const gBars = bars(labels, efe, { signed: true, highlight: best });
    gBars.id = "efe-bars";
    root.append(gBars);
    root.append(el("h4", null, "Policy posterior q(π)"));
    root.append(bars(labels, d.q_pi, { highlight: d.q_pi.indexOf(Math.max(...d.q_pi)) }));
    const m = el("table", "metrics");
    for (const [k, v] of Object.entries(d.metrics)) {
      const tr = el("tr");
      tr.append(el("td", null, k), el("td", "num", Number(v).toFixed(4)));
      m.append(tr);
    }
    root.append(m);
    this.feCanvas = el("canvas", "chart");
    this.hCanvas = el("canvas", "chart");
    root.append(this.feCanvas, this.hCanvas);
    this.drawCharts();
    return overlay;
  }

  drawCharts() {
    if (!this.feCanvas || !this.feCanvas.isConnected) return;
    drawChart(this.feCanvas, "free energy", [{ series: this.freeEnergy, colour: "#e69f00" }]);
    drawChart(this.hCanvas, "belief entropy (nats)", [{ series: this.entropy, colour: "#56b4e9" }]);
  }
}
