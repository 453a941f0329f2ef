// The knowledge-graph view: nodes and edges on a canvas, filtered by type; click a
// node to inspect its properties.
//
// The REST API pages nodes and gives edges per node, so the view loads the non-agent
// nodes (coalitions, locations, ...) as hubs, fetches each hub's edges in both
// directions (at most MAX_HUBS requests, a few at a time, to stay well inside the rate
// limit), and adds the agents those edges reach. Layout: a plain force simulation,
// O(n²) per step, fine for the few hundred nodes shown.

import { api } from "./api.js";
import { colourOf, rgbToCss } from "./palette.js";

const MAX_HUBS = 80;
const MAX_NODES = 600;

export class GraphView {
  constructor(canvas, info, filters) {
    this.canvas = canvas;
    this.info = info; // element showing the clicked node
    this.filters = filters; // element holding the type checkboxes
    this.nodes = [];
    this.edges = [];
    this.byId = new Map();
    this.hidden = new Set(); // node types filtered out
    this.typeColour = new Map();
    this.selected = null;
    canvas.addEventListener("click", (ev) => this.click(ev));
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  async load(simId) {
    this.simId = simId;
    const stats = await api(`simulations/${simId}/knowledge/stats`);
    const types = Object.keys(stats.nodes_by_type).sort();
    types.forEach((t, i) => this.typeColour.set(t, rgbToCss(colourOf(i + 3))));
    const nodes = new Map();
    const hubTypes = types.filter((t) => t !== "agent");
    for (const t of hubTypes) {
      const page = await api(`simulations/${simId}/knowledge/nodes?type=${encodeURIComponent(t)}&limit=${MAX_HUBS}`);
      for (const n of page.items) nodes.set(n.id, n);
    }
    const hubs = [...nodes.values()].slice(0, MAX_HUBS);
    const edges = [];
    const queue = [...hubs];
    const worker = async () => {
      while (queue.length) {
        const hub = queue.shift();
        const nb = await api(`simulations/${simId}/knowledge/nodes/${hub.id}/neighbours?direction=both`);
        edges.push(...nb.edges);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    // nodes reached by edges but not loaded (agents): known by id only until clicked
    const seen = new Set();
    this.edges = [];
    for (const e of edges) {
      const key = `${e.src}>${e.dst}>${e.type}`;
      if (seen.has(key)) continue;
      seen.add(key);
      for (const id of [e.src, e.dst]) {
        if (!nodes.has(id) && nodes.size < MAX_NODES) nodes.set(id, { id, type: "agent", key: null });
      }
      if (nodes.has(e.src) && nodes.has(e.dst)) this.edges.push(e);
    }
    if (!this.typeColour.has("agent")) this.typeColour.set("agent", rgbToCss(colourOf(0)));
    this.nodes = [...nodes.values()];
    this.byId = nodes;
    this.stats = stats;
    this.layout();
    this.renderFilters(types.length ? types : ["agent"]);
    this.draw();
    return { nodes: this.nodes.length, edges: this.edges.length };
  }

  renderFilters(types) {
    this.filters.replaceChildren();
    for (const t of types) {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = !this.hidden.has(t);
      box.dataset.type = t;
      box.addEventListener("change", () => {
        if (box.checked) this.hidden.delete(t);
        else this.hidden.add(t);
        this.draw();
      });
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = this.typeColour.get(t);
      const count = this.stats ? this.stats.nodes_by_type[t] : undefined;
      label.append(box, swatch, document.createTextNode(` ${t}${count !== undefined ? ` (${count})` : ""}`));
      this.filters.append(label);
    }
  }

  layout() {
    const n = this.nodes.length;
    const index = new Map(this.nodes.map((node, i) => [node.id, i]));
    // start on a circle (deterministic, so screenshots are comparable)
    const x = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const a = (2 * Math.PI * i) / Math.max(n, 1);
      x[i] = Math.cos(a) * (1 + (i % 7) * 0.05);
      y[i] = Math.sin(a) * (1 + (i % 7) * 0.05);
    }
    const links = this.edges.map((e) => [index.get(e.src), index.get(e.dst)]);
    const k = 1 / Math.sqrt(Math.max(n, 1));
    const steps = n > 300 ? 120 : 250;
    for (let step = 0; step < steps; step++) {
      const fx = new Float64Array(n);
      const fy = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const dx = x[i] - x[j];
          const dy = y[i] - y[j];
          const d2 = dx * dx + dy * dy + 1e-6;
          const f = (k * k) / d2;
          fx[i] += dx * f;
          fy[i] += dy * f;
          fx[j] -= dx * f;
          fy[j] -= dy * f;
        }
      }
      for (const [a, b] of links) {
        const dx = x[a] - x[b];
        const dy = y[a] - y[b];
        const d = Math.sqrt(dx * dx + dy * dy) + 1e-9;
        const f = d / k;
        fx[a] -= (dx / d) * f * 0.1;
        fy[a] -= (dy / d) * f * 0.1;
        fx[b] += (dx / d) * f * 0.1;
        fy[b] += (dy / d) * f * 0.1;
      }
      const temp = 0.05 * (1 - step / steps) + 0.002;
      for (let i = 0; i < n; i++) {
        fx[i] -= x[i] * 0.02; // gravity keeps unconnected nodes on screen
        fy[i] -= y[i] * 0.02;
        const m = Math.sqrt(fx[i] * fx[i] + fy[i] * fy[i]) + 1e-12;
        x[i] += (fx[i] / m) * Math.min(m, temp);
        y[i] += (fy[i] / m) * Math.min(m, temp);
      }
    }
    this.nodes.forEach((node, i) => {
      node.x = x[i];
      node.y = y[i];
    });
  }

  // world units (the layout's) to canvas pixels, fitted to the canvas
  transform() {
    let x0 = Infinity;
    let x1 = -Infinity;
    let y0 = Infinity;
    let y1 = -Infinity;
    for (const n of this.nodes) {
      x0 = Math.min(x0, n.x);
      x1 = Math.max(x1, n.x);
      y0 = Math.min(y0, n.y);
      y1 = Math.max(y1, n.y);
    }
    const w = this.canvas.width;
    const h = this.canvas.height;
    const s = Math.min((w - 40) / Math.max(x1 - x0, 1e-9), (h - 40) / Math.max(y1 - y0, 1e-9));
    return (n) => [20 + (n.x - x0) * s + (w - 40 - (x1 - x0) * s) / 2, 20 + (n.y - y0) * s + (h - 40 - (y1 - y0) * s) / 2];
  }

  visible(node) {
    return !this.hidden.has(node.type);
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.max(1, Math.round(c.clientWidth * dpr));
    c.height = Math.max(1, Math.round(c.clientHeight * dpr));
    const ctx = c.getContext("2d");
    ctx.fillStyle = "#0d0f13";
    ctx.fillRect(0, 0, c.width, c.height);
    if (!this.nodes.length) return;
    const at = this.transform();
    this.at = at;
    ctx.strokeStyle = "rgba(160, 170, 190, 0.35)";
    ctx.lineWidth = dpr;
    ctx.beginPath();
    for (const e of this.edges) {
      const a = this.byId.get(e.src);
      const b = this.byId.get(e.dst);
      if (!this.visible(a) || !this.visible(b)) continue;
      const [ax, ay] = at(a);
      const [bx, by] = at(b);
      ctx.moveTo(ax, ay);
      ctx.lineTo(bx, by);
    }
    ctx.stroke();
    const r = 4 * dpr;
    for (const n of this.nodes) {
      if (!this.visible(n)) continue;
      const [px, py] = at(n);
      ctx.fillStyle = this.typeColour.get(n.type) || "#ccc";
      ctx.beginPath();
      ctx.arc(px, py, n.type === "agent" ? r * 0.7 : r, 0, 2 * Math.PI);
      ctx.fill();
      if (this.selected === n.id) {
        ctx.strokeStyle = "#fff";
        ctx.lineWidth = 2 * dpr;
        ctx.stroke();
      }
    }
  }

  /** Client (CSS) pixel of a node, for tests. */
  nodeToClient(id) {
    const n = this.byId.get(id);
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const [x, y] = this.at(n);
    return [r.left + x / dpr, r.top + y / dpr];
  }

  async click(ev) {
    if (!this.at) return;
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const x = (ev.clientX - r.left) * dpr;
    const y = (ev.clientY - r.top) * dpr;
    let best = null;
    let bestD = (10 * dpr) ** 2;
    for (const n of this.nodes) {
      if (!this.visible(n)) continue;
      const [px, py] = this.at(n);
      const d = (px - x) ** 2 + (py - y) ** 2;
      if (d < bestD) {
        bestD = d;
        best = n;
      }
    }
    if (!best) return;
    this.selected = best.id;
    this.draw();
    const node = await api(`simulations/${this.simId}/knowledge/nodes/${best.id}`);
    Object.assign(best, node);
    const degree = this.edges.filter((e) => e.src === best.id || e.dst === best.id).length;
    this.info.replaceChildren();
    const title = document.createElement("strong");
    title.textContent = `${node.type} ${node.key ?? ""} (node ${node.id})`;
    const pre = document.createElement("pre");
    pre.id = "node-properties";
    pre.textContent = JSON.stringify(
      { ...node.properties, created_tick: node.created_tick, updated_tick: node.updated_tick, edges_shown: degree },
      null,
      2,
    );
    this.info.append(title, pre);
  }
}
