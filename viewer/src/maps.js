// MapLibre maps: creation, error handling, raster layers, footprints, sync.
import maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import { baseStyle, followGraticule } from './basemap.js';
import { transformRequest } from './auth.js';

const PREFIX = 'lyr-';

/**
 * A map in `container` at `view`. `hooks.onBasemapError()` is called when the
 * basemap cannot be reached; `hooks.onLayerError(uid, message)` when a
 * layer's tiles fail.
 */
export function createMap(container, config, view, hooks = {}) {
  const map = new maplibregl.Map({
    container,
    style: baseStyle(config.basemap),
    center: [view.lon, view.lat],
    zoom: view.zoom,
    maxZoom: 20,
    dragRotate: false,
    pitchWithRotate: false,
    touchPitch: false,
    attributionControl: { compact: false },
    // This server's tiles and TileJSON carry the signed-in user's key (the basemap never does).
    transformRequest,
  });
  map.touchZoomRotate.disableRotation();
  map.keyboard.enable();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  followGraticule(map);
  map.tuilerie = { urls: new Map(), ready: new Promise((resolve) => map.once('load', resolve)) };

  let basemapFailures = 0;
  map.on('error', (e) => {
    const source = e.sourceId || (e.source && e.source.id) || '';
    if (source === 'basemap') {
      basemapFailures += 1;
      // A few failed tiles: the basemap is unreachable (offline machine).
      if (basemapFailures === 3 && map.getLayer('basemap')) {
        map.setLayoutProperty('basemap', 'visibility', 'none');
        if (hooks.onBasemapError) hooks.onBasemapError();
      }
      return;
    }
    if (source.startsWith(PREFIX)) {
      if (hooks.onLayerError) hooks.onLayerError(Number(source.slice(PREFIX.length)), messageOf(e));
      return;
    }
    if (hooks.onError) hooks.onError(messageOf(e));
  });
  return map;
}

function messageOf(e) {
  return (e && e.error && e.error.message) || 'unknown error';
}

/** Removes every raster layer (their tiles are refetched when they are added again). */
export function clearRasterLayers(map) {
  syncRasterLayers(map, []);
}

/**
 * Shows exactly `wanted` raster layers on `map`, bottom first:
 * `[{uid, source (a MapLibre raster source), opacity, visible}]`. Layers
 * whose source changed are re-created; the others are updated in place.
 */
export function syncRasterLayers(map, wanted) {
  const urls = map.tuilerie.urls;
  const keep = new Set(wanted.map((w) => PREFIX + w.uid));
  for (const w of wanted) w.key = JSON.stringify(w.source);
  for (const id of [...urls.keys()]) {
    const changed = wanted.find((w) => PREFIX + w.uid === id && w.key !== urls.get(id));
    if (!keep.has(id) || changed) {
      if (map.getLayer(id)) map.removeLayer(id);
      if (map.getSource(id)) map.removeSource(id);
      urls.delete(id);
    }
  }
  const before = map.getLayer('footprints-fill') ? 'footprints-fill' : undefined;
  for (const w of wanted) {
    const id = PREFIX + w.uid;
    if (!urls.has(id)) {
      map.addSource(id, w.source);
      map.addLayer(
        {
          id,
          type: 'raster',
          source: id,
          paint: { 'raster-opacity': w.opacity, 'raster-fade-duration': 0 },
          layout: { visibility: w.visible ? 'visible' : 'none' },
        },
        before,
      );
      urls.set(id, w.key);
    } else {
      map.setPaintProperty(id, 'raster-opacity', w.opacity);
      map.setLayoutProperty(id, 'visibility', w.visible ? 'visible' : 'none');
    }
  }
  // Stack in order, each just under the footprints: the last ends on top.
  for (const w of wanted) map.moveLayer(PREFIX + w.uid, before);
}

/** Adds the footprint and search-box layers (outlines: they go over imagery). */
export function addOverlays(map) {
  const empty = { type: 'FeatureCollection', features: [] };
  map.addSource('footprints', { type: 'geojson', data: empty });
  map.addSource('draw', { type: 'geojson', data: empty });
  const hot = ['any', ['boolean', ['feature-state', 'hover'], false], ['boolean', ['feature-state', 'selected'], false]];
  map.addLayer({
    id: 'footprints-fill',
    type: 'fill',
    source: 'footprints',
    paint: {
      // Only the highlighted footprint is filled: results often overlap.
      'fill-color': '#f08c00',
      'fill-opacity': ['case', hot, 0.3, 0],
    },
  });
  map.addLayer({
    id: 'footprints-line',
    type: 'line',
    source: 'footprints',
    paint: {
      'line-color': ['case', hot, '#d9480f', '#1f7a8c'],
      'line-width': ['case', hot, 2.5, 1.2],
      'line-opacity': 0.9,
    },
  });
  map.addLayer({
    id: 'draw-line',
    type: 'line',
    source: 'draw',
    paint: { 'line-color': '#5f3dc4', 'line-width': 2, 'line-dasharray': [3, 2] },
  });
}

/** A GeoJSON polygon of a bbox. */
export function bboxPolygon([w, s, e, n]) {
  return {
    type: 'Feature',
    properties: {},
    geometry: { type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
  };
}

/** Keeps two maps on the same view; returns a function that stops it. */
export function syncMaps(a, b) {
  let busy = false;
  const follow = (from, to) => () => {
    if (busy) return;
    busy = true;
    to.jumpTo({ center: from.getCenter(), zoom: from.getZoom(), bearing: from.getBearing(), pitch: from.getPitch() });
    busy = false;
  };
  const ab = follow(a, b);
  const ba = follow(b, a);
  a.on('move', ab);
  b.on('move', ba);
  ab();
  return () => {
    a.off('move', ab);
    b.off('move', ba);
  };
}

/** Resolves once every map has loaded its style, sources and tiles. */
export function whenIdle(maps) {
  const done = (map) => map.loaded() && map.areTilesLoaded() && !map.isMoving();
  return Promise.all(
    maps.map(
      (map) =>
        new Promise((resolve) => {
          const check = () => (done(map) ? resolve() : setTimeout(check, 50));
          check();
        }),
    ),
  );
}
