'use strict';

function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summary(xs) {
  const s = xs.filter((x) => Number.isFinite(x));
  return { median: median(s), min: Math.min(...s), max: Math.max(...s), n: s.length };
}

/** 1234.5 -> "1,235"; small numbers keep 2-3 significant digits. */
function fmt(x, digits) {
  if (!Number.isFinite(x)) return '–';
  if (digits !== undefined) return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const a = Math.abs(x);
  if (a >= 100) return Math.round(x).toLocaleString('en-US');
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a >= 0.1) return x.toFixed(3);
  return x.toPrecision(2);
}

function parseArgs(argv) {
  const o = {};
  for (const a of argv) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (m) o[m[1]] = m[2] === undefined ? true : m[2];
  }
  return o;
}

/** Markdown table from a header row and body rows (arrays of strings). */
function mdTable(header, rows, align) {
  const al = align || header.map((_, i) => (i === 0 ? 'l' : 'r'));
  const sep = al.map((a) => (a === 'r' ? '---:' : a === 'c' ? ':---:' : '---'));
  return [header, sep, ...rows].map((r) => '| ' + r.join(' | ') + ' |').join('\n');
}

/** Plain-text table for the console. */
function textTable(header, rows) {
  const all = [header, ...rows];
  const w = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  return [line(header), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

/** Runs fn in a loop for `ms` milliseconds; returns ns per call. */
function timeLoop(fn, ms, batch = 64) {
  const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  const t0 = process.hrtime.bigint();
  let n = 0;
  let t;
  do {
    for (let i = 0; i < batch; i++) fn(i);
    n += batch;
    t = process.hrtime.bigint();
  } while (t < end);
  return Number(t - t0) / n;
}

module.exports = { median, summary, fmt, parseArgs, mdTable, textTable, timeLoop };
