'use strict';
// The baseline a Node user writes by hand: the same update, one element at a time, in plain
// JavaScript (float64 arithmetic on the typed arrays). One function per variant keeps each
// monomorphic, as a careful user would write it.

function plainLoop(w, s, m, g, h) {
  const { lr, decay, momentum, epsilon } = h;
  const oneMinusDecay = 1 - decay;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i];
    const si = decay * s[i] + oneMinusDecay * gi * gi;
    s[i] = si;
    const mi = momentum * m[i] + (lr * gi) / Math.sqrt(si + epsilon);
    m[i] = mi;
    w[i] -= mi;
  }
}

function centeredLoop(w, s, m, mg, g, h) {
  const { lr, decay, momentum, epsilon } = h;
  const oneMinusDecay = 1 - decay;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i];
    const mgi = decay * mg[i] + oneMinusDecay * gi;
    mg[i] = mgi;
    const si = decay * s[i] + oneMinusDecay * gi * gi;
    s[i] = si;
    const d = si - mgi * mgi + epsilon;
    if (d > 0) {
      const mi = momentum * m[i] + (lr * gi) / Math.sqrt(d);
      m[i] = mi;
      w[i] -= mi;
    }
  }
}

/** One naive step over every tensor of a model: tensors[i] = { w, s, m, mg? }, grads[i]. */
function naiveStep(tensors, grads, h) {
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i];
    if (t.mg) centeredLoop(t.w, t.s, t.m, t.mg, grads[i], h);
    else plainLoop(t.w, t.s, t.m, grads[i], h);
  }
}

module.exports = { naiveStep };
