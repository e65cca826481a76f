// Difference hash (dHash) of an image: decode the PNG, reduce to a 9×8 grey grid by area
// averaging, and set one bit per pixel pair where the left pixel is brighter than its right
// neighbour — 64 bits, printed as 16 hex digits. Also reports a confidence: the share of pairs
// whose difference is clear of noise, so near-flat images can go to human review.
import { PNG } from 'pngjs';

/** @param {Buffer} buffer a PNG file */
export function decodePng(buffer) {
  return PNG.sync.read(buffer);
}

/** Area-averaged grey value of the source rectangle mapped to one grid cell. */
function cellGrey(png, x0, y0, x1, y1) {
  let sum = 0;
  let n = 0;
  for (let y = Math.floor(y0); y < Math.max(Math.floor(y0) + 1, Math.ceil(y1)); y++) {
    for (let x = Math.floor(x0); x < Math.max(Math.floor(x0) + 1, Math.ceil(x1)); x++) {
      const i = (Math.min(y, png.height - 1) * png.width + Math.min(x, png.width - 1)) * 4;
      // ITU-R BT.601 luma, with alpha composited onto white.
      const a = png.data[i + 3] / 255;
      const grey = 0.299 * png.data[i] + 0.587 * png.data[i + 1] + 0.114 * png.data[i + 2];
      sum += grey * a + 255 * (1 - a);
      n++;
    }
  }
  return sum / n;
}

/**
 * @param {Buffer} buffer a PNG file
 * @returns {{ hash: string, width: number, height: number, confidence: number }}
 */
export function dhash(buffer) {
  const png = decodePng(buffer);
  const cols = 9;
  const rows = 8;
  const grid = [];
  for (let r = 0; r < rows; r++) {
    const row = [];
    for (let c = 0; c < cols; c++) {
      row.push(
        cellGrey(
          png,
          (c * png.width) / cols,
          (r * png.height) / rows,
          ((c + 1) * png.width) / cols,
          ((r + 1) * png.height) / rows,
        ),
      );
    }
    grid.push(row);
  }
  let bits = 0n;
  let clear = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols - 1; c++) {
      const diff = grid[r][c] - grid[r][c + 1];
      bits = (bits << 1n) | (diff > 0 ? 1n : 0n);
      if (Math.abs(diff) >= 2) clear++;
    }
  }
  return {
    hash: bits.toString(16).padStart(16, '0'),
    width: png.width,
    height: png.height,
    confidence: clear / 64,
  };
}

/** Hamming distance between two 16-hex-digit hashes (0 = identical, 64 = opposite). */
export function hammingDistance(a, b) {
  let x = BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
  let n = 0;
  while (x) {
    n += Number(x & 1n);
    x >>= 1n;
  }
  return n;
}
