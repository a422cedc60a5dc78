// Item tiles through a MapLibre protocol that skips the tiles which do not
// touch the item's footprint. The tile server answers those with 404 (a tile
// "outside the item"): near the corners of a rotated footprint's bounding
// box there are several, and browsers log every 404 as an error.
import maplibregl from 'maplibre-gl';
import { authHeaders } from './auth.js';

const PROTOCOL = 'tuilerie';
const footprints = new Map();
const empty = () => ({ data: new ArrayBuffer(0) });

/** Remembers an item's footprint (a GeoJSON geometry) for its tiles. */
export function setFootprint(collection, item, geometry) {
  footprints.set(`${collection}\n${item}`, rings(geometry));
}

/** A tile URL template routed through the protocol. */
export const routed = (template) => `${PROTOCOL}://${template}`;

let registered = false;
/** Registers the protocol (once). */
export function registerProtocol() {
  if (registered) return;
  registered = true;
  maplibregl.addProtocol(PROTOCOL, async (params, abort) => {
    const url = params.url.slice(PROTOCOL.length + 3);
    const m = /\/collections\/([^/]+)\/items\/([^/]+)\/tiles\/(?:WebMercatorQuad\/)?(\d+)\/(\d+)\/(\d+)/.exec(new URL(url).pathname);
    if (m) {
      const key = `${decodeURIComponent(m[1])}\n${decodeURIComponent(m[2])}`;
      const shape = footprints.get(key);
      if (shape && !touches(shape, tileBox(Number(m[3]), Number(m[4]), Number(m[5])))) return empty();
    }
    const res = await fetch(url, { signal: abort.signal, headers: authHeaders(url) });
    if (res.status === 204) return empty();
    if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
    return { data: await res.arrayBuffer() };
  });
}

/** The outer rings of a Polygon or MultiPolygon. */
function rings(geometry) {
  if (!geometry) return null;
  if (geometry.type === 'Polygon') return [geometry.coordinates[0]];
  if (geometry.type === 'MultiPolygon') return geometry.coordinates.map((p) => p[0]);
  return null;
}

/** [west, south, east, north] of a WebMercatorQuad tile. */
export function tileBox(z, x, y) {
  const n = 2 ** z;
  const lon = (i) => (i / n) * 360 - 180;
  const lat = (j) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * j) / n))) * 180) / Math.PI;
  return [lon(x), lat(y + 1), lon(x + 1), lat(y)];
}

/** True when a footprint (rings) and a box share a point. */
export function touches(shape, [w, s, e, n]) {
  const corners = [[w, s], [e, s], [e, n], [w, n]];
  const boxEdges = corners.map((c, i) => [c, corners[(i + 1) % 4]]);
  for (const ring of shape) {
    if (ring.some(([x, y]) => x >= w && x <= e && y >= s && y <= n)) return true;
    if (corners.some((c) => inside(ring, c))) return true;
    for (let i = 0; i + 1 < ring.length; i++) {
      if (boxEdges.some(([a, b]) => crosses(ring[i], ring[i + 1], a, b))) return true;
    }
  }
  return false;
}

function inside(ring, [px, py]) {
  let hit = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

function crosses(p1, p2, q1, q2) {
  const side = (a, b, c) => Math.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]));
  return side(p1, p2, q1) !== side(p1, p2, q2) && side(q1, q2, p1) !== side(q1, q2, p2);
}
