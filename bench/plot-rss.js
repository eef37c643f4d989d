#!/usr/bin/env node
// Draws the memory of a soak run as an SVG line chart: resident memory (MB)
// over time (s), one line per CSV column after the first.
//
//   node bench/plot-rss.js SOAK.csv OUT.svg "title"
//
// The CSV is what bench/soak.sh writes: a header row, then seconds and one
// RSS figure per process kind per row.
'use strict';
const fs = require('node:fs');

const [csvPath, svgPath, title = 'RSS'] = process.argv.slice(2);
if (!csvPath || !svgPath) {
  console.error('usage: node bench/plot-rss.js SOAK.csv OUT.svg [title]');
  process.exit(2);
}
const [header, ...rows] = fs.readFileSync(csvPath, 'utf8').trim().split('\n').map((l) => l.split(','));
const data = rows.map((r) => r.map(Number));
const series = header.slice(1);
const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

const width = 800;
const height = 360;
const margin = { left: 60, right: 20, top: 40, bottom: 70 };
const plotW = width - margin.left - margin.right;
const plotH = height - margin.top - margin.bottom;
const maxX = Math.max(1, ...data.map((r) => r[0]));
const maxY = niceCeiling(Math.max(1, ...data.flatMap((r) => r.slice(1))));
const x = (s) => margin.left + (s / maxX) * plotW;
const y = (mb) => margin.top + plotH - (mb / maxY) * plotH;

/** A round number at or above v, for the top of the axis. */
function niceCeiling(v) {
  const step = 10 ** Math.floor(Math.log10(v));
  return Math.ceil(v / step) * step;
}

const out = [];
out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${escape(title)}</text>`);
for (let i = 0; i <= 5; i++) {
  const mb = (maxY / 5) * i;
  out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y(mb)}" y2="${y(mb)}" stroke="#ddd"/>`);
  out.push(`<text x="${margin.left - 6}" y="${y(mb) + 4}" text-anchor="end">${Math.round(mb)}</text>`);
  const s = (maxX / 5) * i;
  out.push(`<text x="${x(s)}" y="${margin.top + plotH + 16}" text-anchor="middle">${Math.round(s)}</text>`);
}
out.push(`<text x="${margin.left + plotW / 2}" y="${margin.top + plotH + 34}" text-anchor="middle">seconds</text>`);
out.push(`<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">RSS (MB)</text>`);
out.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`);
series.forEach((name, k) => {
  const points = data.map((r) => `${x(r[0]).toFixed(1)},${y(r[k + 1]).toFixed(1)}`).join(' ');
  out.push(`<polyline fill="none" stroke="${colors[k % colors.length]}" stroke-width="1.2" points="${points}"/>`);
  const lx = margin.left + k * 220;
  const ly = height - 12;
  out.push(`<line x1="${lx}" x2="${lx + 20}" y1="${ly - 4}" y2="${ly - 4}" stroke="${colors[k % colors.length]}" stroke-width="2"/>`);
  out.push(`<text x="${lx + 26}" y="${ly}">${escape(name.replace(/_/g, ' '))}</text>`);
});
out.push('</svg>');
fs.writeFileSync(svgPath, out.join('\n') + '\n');

function escape(text) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}
