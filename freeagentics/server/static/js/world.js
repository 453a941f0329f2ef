// The world view: a canvas drawn from typed arrays, never one DOM node per agent.
//
// Two layers, both one pixel per cell, scaled up with smoothing off:
//   * the layout (walls, goals, hazards, resources), rebuilt only when it changes;
//   * the agents, written into an ImageData (a Uint32 per cell) on each new frame.
// Drawing a frame is then two drawImage calls whatever the number of agents, so
// 10 000 agents cost the same to draw as 10. When zoomed in far enough for shapes to
// matter (>= DETAIL_PX per cell) agents are drawn as inset squares, and only those in
// view, which are few at that zoom. Several agents on one cell (the grid allows one)
// would simply show the last: the zoomed-out picture aggregates by cell.

import { colourOf, NONE_RGB, rgbToCss, rgba32 } from "./palette.js";

const DETAIL_PX = 10; // pixels per cell from which agents are drawn one by one
const CELL_RGB = {
  0: [24, 27, 33], // empty
  1: [120, 126, 138], // wall
  2: [214, 178, 54], // goal
  5: [150, 42, 42], // hazard
};
const RESOURCE_RGB = [
  [34, 110, 58],
  [40, 92, 140],
  [120, 70, 140],
];

export class WorldView {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.height = 0;
    this.width = 0;
    this.scale = 1; // screen pixels per cell
    this.ox = 0; // screen position of cell (0, 0)
    this.oy = 0;
    this.colourBy = "kind";
    this.agents = null; // {n, ids, kinds, positions, coalition, energy, tick}
    this.selected = null; // agent id
    this.beliefs = null; // {side, values} shown centred on the selected agent
    this.highlight = new Set(); // agent ids outlined (a coalition's members)
    this.drawTimes = new Float64Array(256); // ring of recent draw durations (ms)
    this.drawCount = 0;
    this.dirty = true;
    this.layoutCanvas = document.createElement("canvas");
    this.agentCanvas = document.createElement("canvas");
    this.installInput();
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
    const loop = () => {
      if (this.dirty) this.draw();
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  resize() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.round(r.width * dpr));
    this.canvas.height = Math.max(1, Math.round(r.height * dpr));
    this.dpr = dpr;
    this.dirty = true;
  }

  /** The static layout from GET .../world (cells decoded, amounts optional). */
  setLayout({ height, width, cells, resourceCells, resourceAmounts }) {
    const first = this.height !== height || this.width !== width;
    this.height = height;
    this.width = width;
    for (const c of [this.layoutCanvas, this.agentCanvas]) {
      c.width = width;
      c.height = height;
    }
    const img = new ImageData(width, height);
    const px = new Uint32Array(img.data.buffer);
    const lut = new Uint32Array(256);
    for (let code = 0; code < 256; code++) {
      const rgb = code >= 6 ? RESOURCE_RGB[(code - 6) % RESOURCE_RGB.length] : CELL_RGB[code];
      lut[code] = rgba32(rgb || CELL_RGB[0]);
    }
    for (let i = 0; i < cells.length; i++) px[i] = lut[cells[i]];
    // resource cells fade towards empty as they are depleted
    if (resourceCells && resourceAmounts) {
      let max = 0;
      for (const a of resourceAmounts) max = Math.max(max, a);
      const empty = CELL_RGB[0];
      for (let j = 0; j < resourceCells.length; j++) {
        const i = resourceCells[j];
        const rgb = RESOURCE_RGB[(cells[i] - 6) % RESOURCE_RGB.length];
        const f = max > 0 ? 0.25 + 0.75 * (resourceAmounts[j] / max) : 1;
        px[i] = rgba32(rgb.map((v, k) => empty[k] + (v - empty[k]) * f));
      }
    }
    this.layoutCanvas.getContext("2d").putImageData(img, 0, 0);
    this.agentImage = new ImageData(width, height);
    this.agentPixels = new Uint32Array(this.agentImage.data.buffer);
    if (first) this.fit();
    this.rebuildAgents();
  }

  /** A world frame's data, typed arrays decoded. */
  setAgents(agents) {
    this.agents = agents;
    this.rebuildAgents();
  }

  setColourBy(mode) {
    this.colourBy = mode;
    this.rebuildAgents();
  }

  /** Re-paint the one-pixel-per-cell agent layer (O(N) typed-array writes). */
  rebuildAgents() {
    const a = this.agents;
    if (!a || !this.agentPixels) return;
    const px = this.agentPixels;
    px.fill(0); // transparent: the layout shows through
    const W = this.width;
    const H = this.height;
    const colours = this.colourTable();
    const pos = a.positions;
    const idx = new Uint16Array(a.n); // colour index per agent, reused by the detail view
    for (let i = 0; i < a.n; i++) {
      const r = pos[2 * i];
      const c = pos[2 * i + 1];
      const k = this.colourIndex(i);
      idx[i] = k;
      if (r >= 0 && r < H && c >= 0 && c < W) px[r * W + c] = colours.u32[k];
    }
    this.colourIdx = idx;
    this.colours = colours;
    this.agentCanvas.getContext("2d").putImageData(this.agentImage, 0, 0);
    this.dirty = true;
  }

  // kinds get the first palette colours; coalitions cycle through the palette
  colourIndex(i) {
    const a = this.agents;
    if (this.colourBy === "kind") return a.kinds[i] + 1;
    const c = a.coalition[i];
    return c < 0 ? 0 : (c % 12) + 1;
  }

  colourTable() {
    const rgb = [NONE_RGB];
    for (let k = 0; k < 12; k++) rgb.push(colourOf(k));
    return { rgb, css: rgb.map(rgbToCss), u32: Uint32Array.from(rgb.map(rgba32)) };
  }

  /** Fit the whole world in the canvas. */
  fit() {
    if (!this.width) return;
    const cw = this.canvas.width;
    const ch = this.canvas.height;
    this.scale = Math.min(cw / this.width, ch / this.height) * 0.98;
    this.ox = (cw - this.width * this.scale) / 2;
    this.oy = (ch - this.height * this.scale) / 2;
    this.dirty = true;
  }

  /** Cell (row, col) under a point in client (CSS) pixels. */
  cellAt(clientX, clientY) {
    const r = this.canvas.getBoundingClientRect();
    const x = (clientX - r.left) * this.dpr;
    const y = (clientY - r.top) * this.dpr;
    return [(y - this.oy) / this.scale, (x - this.ox) / this.scale];
  }

  /** Client (CSS) pixel at the centre of cell (row, col): for tests and tooltips. */
  cellToClient(row, col) {
    const r = this.canvas.getBoundingClientRect();
    return [
      r.left + (this.ox + (col + 0.5) * this.scale) / this.dpr,
      r.top + (this.oy + (row + 0.5) * this.scale) / this.dpr,
    ];
  }

  /** The agent nearest a click, within a few screen pixels (or its own cell). */
  pick(clientX, clientY) {
    const a = this.agents;
    if (!a) return null;
    const [fr, fc] = this.cellAt(clientX, clientY);
    const reach = Math.max(0.75, (6 * this.dpr) / this.scale); // in cells
    let best = null;
    let bestD = reach * reach;
    for (let i = 0; i < a.n; i++) {
      const dr = a.positions[2 * i] + 0.5 - fr;
      const dc = a.positions[2 * i + 1] + 0.5 - fc;
      const d = dr * dr + dc * dc;
      if (d < bestD) {
        bestD = d;
        best = a.ids[i];
      }
    }
    return best;
  }

  rowOf(id) {
    const a = this.agents;
    if (!a || id === null) return -1;
    // ids arrive sorted ascending (the server's order): binary search
    let lo = 0;
    let hi = a.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (a.ids[mid] === id) return mid;
      if (a.ids[mid] < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  zoomAt(factor, x, y) {
    const s = Math.min(Math.max(this.scale * factor, 0.2), 80);
    const f = s / this.scale;
    this.ox = x - (x - this.ox) * f;
    this.oy = y - (y - this.oy) * f;
    this.scale = s;
    this.dirty = true;
  }

  installInput() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const r = c.getBoundingClientRect();
      this.zoomAt(Math.exp(-ev.deltaY * 0.0015), (ev.clientX - r.left) * this.dpr, (ev.clientY - r.top) * this.dpr);
    }, { passive: false });
    c.addEventListener("pointerdown", (ev) => {
      drag = { x: ev.clientX, y: ev.clientY, ox: this.ox, oy: this.oy, moved: false };
      c.setPointerCapture(ev.pointerId);
    });
    c.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      const dx = ev.clientX - drag.x;
      const dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        this.ox = drag.ox + dx * this.dpr;
        this.oy = drag.oy + dy * this.dpr;
        this.dirty = true;
      }
    });
    c.addEventListener("pointerup", (ev) => {
      const wasClick = drag && !drag.moved;
      drag = null;
      if (wasClick && this.onPick) this.onPick(this.pick(ev.clientX, ev.clientY));
    });
  }

  draw() {
    const t0 = performance.now();
    this.dirty = false;
    const ctx = this.ctx;
    const s = this.scale;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#0d0f13";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.width) return;
    ctx.imageSmoothingEnabled = false;
    ctx.setTransform(s, 0, 0, s, this.ox, this.oy);
    ctx.drawImage(this.layoutCanvas, 0, 0);
    if (s >= DETAIL_PX) this.drawAgentsDetailed(ctx);
    else ctx.drawImage(this.agentCanvas, 0, 0);
    this.drawSelection(ctx);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    const dt = performance.now() - t0;
    this.drawTimes[this.drawCount % this.drawTimes.length] = dt;
    this.drawCount++;
  }

  // zoomed in: inset squares, batched into one path per colour, culled to the view
  drawAgentsDetailed(ctx) {
    const a = this.agents;
    if (!a) return;
    const s = this.scale;
    const r0 = -this.oy / s - 1;
    const c0 = -this.ox / s - 1;
    const r1 = r0 + this.canvas.height / s + 2;
    const c1 = c0 + this.canvas.width / s + 2;
    const buckets = this.colours.css.map(() => []);
    for (let i = 0; i < a.n; i++) {
      const r = a.positions[2 * i];
      const c = a.positions[2 * i + 1];
      if (r >= r0 && r <= r1 && c >= c0 && c <= c1) buckets[this.colourIdx[i]].push(i);
    }
    buckets.forEach((rows, k) => {
      if (!rows.length) return;
      ctx.fillStyle = this.colours.css[k];
      ctx.beginPath();
      for (const i of rows) ctx.rect(a.positions[2 * i + 1] + 0.15, a.positions[2 * i] + 0.15, 0.7, 0.7);
      ctx.fill();
    });
  }

  drawSelection(ctx) {
    const a = this.agents;
    const s = this.scale;
    const px = 1 / s; // one screen pixel in cell units
    if (a && this.highlight.size) {
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 1.5 * px;
      ctx.beginPath();
      const m = Math.max(0.1, 2 * px);
      for (let i = 0; i < a.n; i++) {
        if (!this.highlight.has(a.ids[i])) continue;
        ctx.rect(a.positions[2 * i + 1] - m, a.positions[2 * i] - m, 1 + 2 * m, 1 + 2 * m);
      }
      ctx.stroke();
    }
    const row = this.rowOf(this.selected);
    if (row < 0) return;
    const r = a.positions[2 * row];
    const c = a.positions[2 * row + 1];
    if (this.beliefs) {
      // the agent's belief about where its target lies, centred on the agent
      const { side, values } = this.beliefs;
      const rad = (side - 1) / 2;
      let max = 0;
      for (const v of values) max = Math.max(max, v);
      for (let i = 0; i < values.length; i++) {
        const alpha = max > 0 ? values[i] / max : 0;
        if (alpha < 0.02) continue;
        ctx.fillStyle = `rgba(255, 120, 40, ${(0.75 * alpha).toFixed(3)})`;
        ctx.fillRect(c + (i % side) - rad, r + Math.floor(i / side) - rad, 1, 1);
      }
    }
    // a ring that stays visible however far out the view is zoomed
    const m = Math.max(0.3, 4 * px);
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2 * px;
    ctx.strokeRect(c - m, r - m, 1 + 2 * m, 1 + 2 * m);
  }
}
