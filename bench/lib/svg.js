'use strict';
// The throughput chart: hand-written SVG, no dependency. One panel per mix
// (95/5 and 50/50, S values, uniform keys), x = worker threads, y = Mops/s on
// a log scale (the contenders span three orders of magnitude), one line per
// contender through the medians, with min–max whiskers.

const COLORS = {
  threadkv: '#d62728',
  'threadkv-string': '#ff7f0e',
  'threadkv-1shard': '#8c564b',
  map: '#7f7f7f',
  lmdb: '#1f77b4',
  'lmdb-latest': '#17becf',
  sharedmap: '#2ca02c',
  owner: '#9467bd',
  redis: '#e377c2',
};

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * panels: [{ title, series: [{ id, label, points: [{ x, median, min, max }] }] }]
 * xs: the thread counts.
 */
function chart({ title, subtitle, panels, xs }) {
  const panelW = 380;
  const panelH = 300;
  const top = 70;
  const left = 70;
  const gap = 80;
  const W = left + panels.length * (panelW + gap) - gap + 30;
  const ids = new Map();
  for (const p of panels) for (const s of p.series) if (!ids.has(s.id)) ids.set(s.id, s.label);
  const legendCols = 3;
  const legendTop = top + panelH + 60;
  const H = legendTop + Math.ceil(ids.size / legendCols) * 20 + 16;
  let lo = Infinity;
  let hi = 0;
  for (const p of panels)
    for (const s of p.series)
      for (const pt of s.points) {
        if (pt.min > 0) lo = Math.min(lo, pt.min);
        hi = Math.max(hi, pt.max);
      }
  if (!Number.isFinite(lo)) lo = 0.01;
  if (hi <= 0) hi = 1;
  const yLo = Math.pow(10, Math.floor(Math.log10(lo)));
  const yHi = Math.pow(10, Math.ceil(Math.log10(hi)));
  const ly = (v) => (Math.log10(v) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo));
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`);
  if (subtitle) out.push(`<text x="${left}" y="44" fill="#555">${esc(subtitle)}</text>`);
  panels.forEach((p, pi) => {
    const x0 = left + pi * (panelW + gap);
    const y0 = top;
    const px = (i) => x0 + 30 + (i * (panelW - 60)) / Math.max(1, xs.length - 1);
    const py = (v) => y0 + panelH - ly(v) * panelH;
    out.push(`<g>`);
    out.push(`<text x="${x0 + panelW / 2}" y="${y0 - 8}" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
    out.push(`<rect x="${x0}" y="${y0}" width="${panelW}" height="${panelH}" fill="none" stroke="#333"/>`);
    // y grid: decades and 2x, 5x
    for (let d = yLo; d <= yHi * 1.0001; d *= 10) {
      for (const m of [1, 2, 5]) {
        const v = d * m;
        if (v > yHi * 1.0001) continue;
        const y = py(v);
        out.push(`<line x1="${x0}" y1="${y.toFixed(1)}" x2="${x0 + panelW}" y2="${y.toFixed(1)}" stroke="${m === 1 ? '#ccc' : '#eee'}"/>`);
        out.push(`<text x="${x0 - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#333">${v >= 1 ? v : Number(v.toPrecision(1))}</text>`);
      }
    }
    xs.forEach((x, i) => {
      out.push(`<line x1="${px(i)}" y1="${y0 + panelH}" x2="${px(i)}" y2="${y0 + panelH + 5}" stroke="#333"/>`);
      out.push(`<text x="${px(i)}" y="${y0 + panelH + 20}" text-anchor="middle">${x}</text>`);
    });
    out.push(`<text x="${x0 + panelW / 2}" y="${y0 + panelH + 40}" text-anchor="middle" fill="#333">worker threads (2 cores)</text>`);
    out.push(`<text transform="translate(${x0 - 48},${y0 + panelH / 2}) rotate(-90)" text-anchor="middle" fill="#333">Mops/s (log scale)</text>`);
    for (const s of p.series) {
      const color = COLORS[s.id] || '#000';
      const pts = s.points.filter((pt) => pt.median > 0).map((pt) => ({ ...pt, i: xs.indexOf(pt.x) })).filter((pt) => pt.i >= 0);
      if (pts.length === 0) continue;
      const dash = s.id === 'map' ? ' stroke-dasharray="5,4"' : '';
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="${s.id === 'threadkv' ? 3 : 1.8}"${dash} points="${pts.map((pt) => `${px(pt.i).toFixed(1)},${py(pt.median).toFixed(1)}`).join(' ')}"/>`);
      for (const pt of pts) {
        const x = px(pt.i);
        out.push(`<line x1="${x.toFixed(1)}" y1="${py(Math.max(pt.min, yLo)).toFixed(1)}" x2="${x.toFixed(1)}" y2="${py(pt.max).toFixed(1)}" stroke="${color}" stroke-width="1"/>`);
        out.push(`<circle cx="${x.toFixed(1)}" cy="${py(pt.median).toFixed(1)}" r="3.5" fill="${color}"><title>${esc(`${s.label}, ${pt.x} threads: ${pt.median.toPrecision(3)} Mops/s (${pt.min.toPrecision(3)}–${pt.max.toPrecision(3)})`)}</title></circle>`);
      }
    }
    out.push(`</g>`);
  });
  // legend
  const colW = (W - left) / legendCols;
  [...ids].forEach(([id, label], k) => {
    const color = COLORS[id] || '#000';
    const lx = left + (k % legendCols) * colW;
    const ly0 = legendTop + Math.floor(k / legendCols) * 20;
    out.push(`<line x1="${lx}" y1="${ly0}" x2="${lx + 22}" y2="${ly0}" stroke="${color}" stroke-width="${id === 'threadkv' ? 3 : 2}"${id === 'map' ? ' stroke-dasharray="5,4"' : ''}/>`);
    out.push(`<text x="${lx + 28}" y="${ly0 + 4}">${esc(label)}</text>`);
  });
  out.push(`</svg>`);
  return out.join('\n') + '\n';
}

module.exports = { chart, COLORS };
