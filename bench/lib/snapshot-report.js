'use strict';
// Markdown of bench/snapshot.js's results (its own console output, and the
// snapshot section of bench/RESULTS.md).

const fmt = (n, d = 1) => (n >= 100 ? n.toFixed(0) : n.toFixed(d));

function snapshotMarkdown(data) {
  if (!data) return '_Not run._';
  if (data.error) return `_Failed: ${data.error}_`;
  const out = [];
  out.push(
    `Medians of ${data.rounds} run(s); load average ${data.loadavg.map((x) => x.toFixed(1)).join(' ')} at the end. "raw" is a plain ` +
      'sequential write of a buffer of the file\'s size in the same process (the device\'s ceiling); "JS dump" is ' +
      '`entries()` → `v8.serialize` → `writeFile`.',
  );
  out.push('');
  out.push('| where | values | entries | file MB | save MB/s, fsync | save MB/s, no fsync | save entries/s | load MB/s | load entries/s | raw MB/s (fsync / none) | JS dump MB/s |');
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of data.rows) {
    out.push(
      `| ${r.kind} | ${r.label} | ${r.entries.toLocaleString('en-US')} | ${fmt(r.fileMB)} | ${fmt(r.saveMBs)} (${fmt(r.saveMBs / r.rawMBs, 2)}x raw) | ` +
        `${fmt(r.saveNoSyncMBs)} (${fmt(r.saveNoSyncMBs / r.rawNoSyncMBs, 2)}x raw) | ${(r.saveEntriesPerSec / 1e6).toFixed(2)} M | ${fmt(r.loadMBs)} | ` +
        `${(r.loadEntriesPerSec / 1e6).toFixed(2)} M | ${fmt(r.rawMBs)} / ${fmt(r.rawNoSyncMBs)} | ${fmt(r.dumpMBs)} |`,
    );
  }
  out.push('');
  out.push('Writer threads overwriting 1 KiB values, alone and while snapshots run back to back (to tmpfs, no fsync), in alternating phases:');
  out.push('');
  out.push('| writers | store MiB | sets/s alone | sets/s during snapshots | ratio | longest set() alone | longest set() during | snapshots (median ms) |');
  out.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const w of data.writers) {
    out.push(
      `| ${w.writers} | ${w.storeMiB} | ${(w.baselineOpsPerSec / 1e6).toFixed(2)} M | ${(w.duringOpsPerSec / 1e6).toFixed(2)} M | ${w.ratio.toFixed(2)} | ` +
        `${w.worstSetMsBaseline.toFixed(2)} ms | ${w.worstSetMsDuring.toFixed(2)} ms | ${w.snapshots} (${fmt(w.snapshotMs)} ms) |`,
    );
  }
  const m = data.memory;
  out.push('');
  out.push(
    `Peak extra RSS during a snapshot of ${fmt(m.storeMiB)} MiB (64 shards): **${fmt(m.saveExtraMiB)} MiB** ` +
      `(one shard's copy plus a block is about ${fmt(m.expectedSaveMiB)} MiB)` +
      (m.retainedPeakMiB !== undefined ? `; entries retained for the point-in-time image: ${fmt(m.retainedPeakMiB)} MiB at most` : '') +
      `. Restore: peak ${fmt(m.loadPeakOverFinalMiB)} MiB over the final RSS (RSS grew ${fmt(m.loadGrowthMiB)} MiB).`,
  );
  return out.join('\n');
}

module.exports = { snapshotMarkdown };
