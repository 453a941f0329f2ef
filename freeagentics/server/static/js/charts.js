// Small line charts drawn on canvases: a bounded series per chart, redrawn on push.

export class Series {
  constructor(limit = 120) {
    this.limit = limit;
    this.x = [];
    this.y = [];
  }

  push(x, y) {
    if (y === null || y === undefined || !Number.isFinite(y)) return;
    this.x.push(x);
    this.y.push(y);
    if (this.x.length > this.limit) {
      this.x.shift();
      this.y.shift();
    }
  }

  clear() {
    this.x.length = 0;
    this.y.length = 0;
  }

  get last() {
    return this.y.length ? this.y[this.y.length - 1] : null;
  }
}

function fmt(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(2) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

/** Draw one or more series (same x axis) with a title and the latest value. */
export function drawChart(canvas, title, lines, unit = "") {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(canvas.clientWidth * dpr);
  const h = Math.round(canvas.clientHeight * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  ctx.font = `${11 * dpr}px system-ui, sans-serif`;
  ctx.fillStyle = "#9aa3b2";
  ctx.textBaseline = "top";
  ctx.fillText(title, 4 * dpr, 3 * dpr);
  let lo = Infinity;
  let hi = -Infinity;
  let x0 = Infinity;
  let x1 = -Infinity;
  for (const { series } of lines) {
    for (const v of series.y) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    if (series.x.length) {
      x0 = Math.min(x0, series.x[0]);
      x1 = Math.max(x1, series.x[series.x.length - 1]);
    }
  }
  if (!Number.isFinite(lo)) return;
  if (hi - lo < 1e-9) {
    hi += Math.abs(hi) * 0.05 + 1e-3;
    lo -= Math.abs(lo) * 0.05 + 1e-3;
  }
  const top = 18 * dpr;
  const pad = 4 * dpr;
  const sx = (x) => pad + ((x - x0) / Math.max(x1 - x0, 1e-9)) * (w - 2 * pad);
  const sy = (y) => h - pad - ((y - lo) / (hi - lo)) * (h - top - pad);
  lines.forEach(({ series, colour }, n) => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5 * dpr;
    ctx.beginPath();
    series.y.forEach((y, i) => (i ? ctx.lineTo(sx(series.x[i]), sy(y)) : ctx.moveTo(sx(series.x[i]), sy(y))));
    ctx.stroke();
    if (series.last !== null) {
      ctx.fillStyle = colour;
      ctx.textAlign = "right";
      ctx.fillText(fmt(series.last) + unit, w - 4 * dpr - n * 70 * dpr, 3 * dpr);
      ctx.textAlign = "left";
    }
  });
}
