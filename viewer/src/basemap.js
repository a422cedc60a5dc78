// The map's own background: the configured basemap (an XYZ raster) over a
// neutral land/sea drawing (Natural Earth 1:50M land from world-atlas) and a
// graticule, so the map reads well with no basemap reachable.
import { feature } from 'topojson-client';
import landTopology from 'world-atlas/land-50m.json';

export const SEA = '#dde5ea';
export const LAND = '#f5f3ee';

let landCache = null;
function land() {
  if (!landCache) landCache = feature(landTopology, landTopology.objects.land);
  return landCache;
}

/** Graticule lines every `step` degrees over a longitude/latitude box. */
export function graticule(step, west = -180, south = -80, east = 180, north = 80) {
  const features = [];
  const line = (coordinates, i) => ({
    type: 'Feature',
    properties: { major: i % 5 === 0 },
    geometry: { type: 'LineString', coordinates },
  });
  const [w, e] = [Math.floor(west / step), Math.ceil(east / step)];
  const [s, n] = [Math.floor(Math.max(-85, south) / step), Math.ceil(Math.min(85, north) / step)];
  const lat = (j) => Math.max(-85, Math.min(85, j * step));
  for (let i = w; i <= e; i++) features.push(line([[i * step, lat(s)], [i * step, lat(n)]], i));
  // Parallels get a vertex every few degrees so they follow the projection.
  const vertices = Math.max(2, Math.ceil(((e - w) * step) / 5));
  for (let j = s; j <= n; j++) {
    const coords = [];
    for (let k = 0; k <= vertices; k++) coords.push([(w + ((e - w) * k) / vertices) * step, lat(j)]);
    features.push(line(coords, j));
  }
  return { type: 'FeatureCollection', features };
}

/** The graticule step that suits a zoom level, in degrees. */
export function graticuleStep(zoom) {
  if (zoom < 3) return 10;
  if (zoom < 5) return 5;
  if (zoom < 7) return 1;
  if (zoom < 9) return 0.25;
  if (zoom < 11) return 0.05;
  return 0.01;
}

/** The MapLibre style: background, land, basemap, graticule. */
export function baseStyle(basemap) {
  const sources = {
    land: { type: 'geojson', data: land() },
    graticule: { type: 'geojson', data: graticule(10) },
  };
  const layers = [
    { id: 'sea', type: 'background', paint: { 'background-color': SEA } },
    { id: 'land', type: 'fill', source: 'land', paint: { 'fill-color': LAND, 'fill-antialias': true } },
    {
      id: 'land-outline',
      type: 'line',
      source: 'land',
      paint: {
        'line-color': '#b9c4cb',
        'line-width': 0.8,
        // The 1:50M coastline is coarse at large scales: fade it there.
        'line-opacity': ['interpolate', ['linear'], ['zoom'], 5, 1, 10, 0.25],
      },
    },
  ];
  if (basemap && basemap.url) {
    sources.basemap = {
      type: 'raster',
      tiles: [basemap.url],
      tileSize: 256,
      maxzoom: basemap.max_zoom ?? 19,
      attribution: basemap.attribution || '',
    };
    layers.push({ id: 'basemap', type: 'raster', source: 'basemap', paint: { 'raster-opacity': 1 } });
  }
  layers.push({
    id: 'graticule',
    type: 'line',
    source: 'graticule',
    paint: {
      'line-color': '#8a9ba8',
      'line-opacity': ['case', ['get', 'major'], 0.55, 0.3],
      'line-width': ['case', ['get', 'major'], 0.9, 0.6],
      'line-dasharray': [2, 2],
    },
  });
  return { version: 8, name: 'Tuilerie', sources, layers };
}

/** Keeps the graticule's density right for the view. */
export function followGraticule(map) {
  const update = () => {
    const b = map.getBounds();
    const step = graticuleStep(map.getZoom());
    const source = map.getSource('graticule');
    if (source) {
      source.setData(
        graticule(step, Math.max(-180, b.getWest()), b.getSouth(), Math.min(180, b.getEast()), b.getNorth()),
      );
    }
  };
  map.on('moveend', update);
  map.on('load', update);
}
