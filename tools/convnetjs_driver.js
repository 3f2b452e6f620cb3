// Trains the ConvNetJS MNIST demo's net with the demo's own trainer settings on arrays written by
// tools/bench_convnetjs.py, and prints one JSON line. Usage: node convnetjs_driver.js <convnetjs dir> <data dir>
"use strict";
const fs = require("fs");
const path = require("path");

const convnetjs = require(path.resolve(process.argv[2]));
const dataDir = process.argv[3];
const meta = JSON.parse(fs.readFileSync(path.join(dataDir, "meta.json"), "utf8"));
const read = (name) => fs.readFileSync(path.join(dataDir, name));
const trainX = read("train_x.bin"), trainY = read("train_y.bin"), trainOffsets = read("train_offsets.bin");
const testX = read("test_x.bin"), testY = read("test_y.bin"), testOffsets = read("test_offsets.bin");
const SIDE = 28, CROP = 24;

// The demo's network and trainer (convnetjs.com/demo/mnist.html).
const layers = [
  { type: "input", out_sx: CROP, out_sy: CROP, out_depth: 1 },
  { type: "conv", sx: 5, filters: 8, stride: 1, pad: 2, activation: "relu" },
  { type: "pool", sx: 2, stride: 2 },
  { type: "conv", sx: 5, filters: 16, stride: 1, pad: 2, activation: "relu" },
  { type: "pool", sx: 3, stride: 3 },
  { type: "softmax", num_classes: 10 },
];
const net = new convnetjs.Net();
net.makeLayers(layers);
const trainer = new convnetjs.SGDTrainer(net, { method: "adadelta", batch_size: meta.batch_size, l2_decay: 0.001 });

// A crop as the demo's img_to_vol + augment make it: pixel / 255 - 0.5.
function crop(images, index, dy, dx) {
  const vol = new convnetjs.Vol(CROP, CROP, 1, 0.0);
  const base = index * SIDE * SIDE;
  for (let r = 0; r < CROP; r++) {
    for (let c = 0; c < CROP; c++) {
      vol.w[r * CROP + c] = images[base + (r + dy) * SIDE + (c + dx)] / 255.0 - 0.5;
    }
  }
  return vol;
}

const started = process.hrtime.bigint();
for (let i = 0; i < meta.train; i++) {
  trainer.train(crop(trainX, i, trainOffsets[2 * i], trainOffsets[2 * i + 1]), trainY[i]);
}
const trainSeconds = Number(process.hrtime.bigint() - started) / 1e9;

let correct = 0;
for (let i = 0; i < meta.test; i++) {
  const mean = new Float64Array(10);
  for (let j = 0; j < meta.crops; j++) {
    const o = 2 * (i * meta.crops + j);
    const p = net.forward(crop(testX, i, testOffsets[o], testOffsets[o + 1])).w;
    for (let c = 0; c < 10; c++) mean[c] += p[c];
  }
  let best = 0;
  for (let c = 1; c < 10; c++) if (mean[c] > mean[best]) best = c;
  if (best === testY[i]) correct++;
}
process.stdout.write(JSON.stringify({ train_seconds: trainSeconds, test_accuracy: correct / meta.test }) + "\n");
