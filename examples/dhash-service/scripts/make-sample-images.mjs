#!/usr/bin/env node
// Writes the sample images the traffic generator sends (small deterministic PNGs: gradients,
// stripes, a checkerboard and a nearly flat one that lands in low-confidence review). Run it to
// regenerate examples/dhash-service/sample-images/; the output is committed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

const out = fileURLToPath(new URL('../sample-images/', import.meta.url));
const size = 64;
const images = {
  'gradient-horizontal.png': (x) => [x * 4, x * 2, 255 - x * 4],
  'gradient-vertical.png': (_x, y) => [y * 4, 128, 255 - y * 3],
  'stripes.png': (x) => (Math.floor(x / 8) % 2 ? [240, 240, 240] : [20, 20, 60]),
  'checkerboard.png': (x, y) =>
    (Math.floor(x / 16) + Math.floor(y / 16)) % 2 ? [250, 200, 0] : [0, 60, 120],
  'circle.png': (x, y) => ((x - 32) ** 2 + (y - 32) ** 2 < 400 ? [200, 30, 30] : [230, 230, 255]),
  'nearly-flat.png': (x) => [128 + (x % 2), 128, 128],
};
mkdirSync(out, { recursive: true });
for (const [name, colour] of Object.entries(images)) {
  const png = new PNG({ width: size, height: size });
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const [r, g, b] = colour(x, y);
      const i = (y * size + x) * 4;
      png.data[i] = r;
      png.data[i + 1] = g;
      png.data[i + 2] = b;
      png.data[i + 3] = 255;
    }
  }
  writeFileSync(join(out, name), PNG.sync.write(png));
  console.log(`wrote ${join(out, name)}`);
}
