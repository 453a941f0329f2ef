// Colours: a qualitative palette (Okabe-Ito plus a few), readable on a dark background.

const PALETTE = [
  [86, 180, 233],
  [230, 159, 0],
  [0, 158, 115],
  [240, 228, 66],
  [204, 121, 167],
  [213, 94, 0],
  [0, 114, 178],
  [170, 220, 120],
  [255, 150, 150],
  [150, 150, 255],
  [200, 160, 100],
  [120, 230, 230],
];
export const NONE_RGB = [150, 150, 150];

export function colourOf(k) {
  return PALETTE[((k % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

export function rgbToCss([r, g, b]) {
  return `rgb(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)})`;
}

/** An opaque pixel for a Uint32Array view of ImageData (little-endian: ABGR in a word). */
export function rgba32([r, g, b]) {
  return ((255 << 24) | (Math.round(b) << 16) | (Math.round(g) << 8) | Math.round(r)) >>> 0;
}
