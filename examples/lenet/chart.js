'use strict';
// A small SVG chart of the training loss and batch accuracy per step (no dependencies).

function polyline(values, maxValue, width, height, color) {
  if (values.length === 0) return '';
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const points = values.map((v, i) => `${(40 + i * step).toFixed(1)},${(20 + height - (Math.min(v, maxValue) / maxValue) * height).toFixed(1)}`);
  return `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points.join(' ')}"/>`;
}

// Moving average over `window` steps, to see the trend through batch noise.
function smooth(values, window) {
  const out = [];
  let sum = 0;
  values.forEach((v, i) => {
    sum += v;
    if (i >= window) sum -= values[i - window];
    out.push(sum / Math.min(i + 1, window));
  });
  return out;
}

/** The SVG text of a chart of `loss` (left axis) and `accuracy` (0–1, right axis) per step. */
function trainingChart({ loss, accuracy, title }) {
  const width = 640;
  const height = 300;
  const maxLoss = Math.max(0.5, Math.ceil(Math.max(...loss.slice(0, 20), 0) * 2) / 2);
  const window = Math.max(1, Math.round(loss.length / 50));
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const y = 20 + height - f * height;
      return `<line x1="40" y1="${y}" x2="${40 + width}" y2="${y}" stroke="#ddd"/>` +
        `<text x="34" y="${y + 4}" text-anchor="end" font-size="11" fill="#c0392b">${(f * maxLoss).toFixed(2)}</text>` +
        `<text x="${46 + width}" y="${y + 4}" font-size="11" fill="#2471a3">${f.toFixed(2)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width + 90}" height="${height + 60}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="40" y="14" font-size="13">${title}</text>
${ticks}
${polyline(smooth(loss, window), maxLoss, width, height, '#c0392b')}
${polyline(smooth(accuracy, window), 1, width, height, '#2471a3')}
<text x="40" y="${height + 45}" font-size="11" fill="#c0392b">loss (left axis)</text>
<text x="160" y="${height + 45}" font-size="11" fill="#2471a3">batch accuracy (right axis)</text>
<text x="${40 + width}" y="${height + 45}" text-anchor="end" font-size="11">${loss.length} steps, moving average of ${window}</text>
</svg>
`;
}

module.exports = { trainingChart };
