// Tuilerie's web viewer: wires the maps, the panels and the URL state.
import './style.css';
import { Api, linkOf, withParams, interval } from './api.js';
import { createMap, syncRasterLayers, clearRasterLayers, addOverlays, syncMaps, whenIdle } from './maps.js';
import { configure } from './auth.js';
import { signInControl } from './signin.js';
import { registerProtocol, routed, setFootprint } from './itemtiles.js';
import { CompareView } from './compare.js';
import { emptyState, fromHash, toHash, makeLayer } from './state.js';
import { SearchPanel } from './search.js';
import { LayerPanel } from './layerpanel.js';
import { ItemPanel } from './details.js';
import { Tabs } from './tabs.js';
import { $, h, toast, copy, debounce } from './dom.js';

const enc = encodeURIComponent;

class App {
  async start() {
    this.config = await fetch('config.json').then((r) => {
      if (!r.ok) throw new Error(`config.json: ${r.status}`);
      return r.json();
    });
    this.api = new Api(this.config.api);
    // The API key of this tab (if any) is checked before anything is loaded.
    configure(this.config.api);
    this.account = signInControl(this);
    await this.account.restore();
    this.state = fromHash(location.hash, emptyState(this.config));
    this.infos = new Map();
    this.lastHash = null;
    this.saveUrl = debounce(() => this.writeUrl(), 150);
    $('#catalog-title').textContent = this.config.title || 'Tuilerie';
    $('#api-link').href = `${this.config.api}/api.html`;
    $('#skip').addEventListener('click', () => $('#s-collection').focus());

    const hooks = {
      onBasemapError: () => this.note('Basemap unreachable: showing the built-in land outline and graticule.'),
      onLayerError: (uid, message) => this.layerError(uid, message),
      onError: () => {},
    };
    this.hooks = hooks;
    registerProtocol();
    this.mapA = createMap($('#map-a'), this.config, this.state.view, hooks);
    this.mapB = null;
    this.compare = new CompareView($('#maps'), $('#divider'), (split) => {
      this.state.compare.split = split;
      this.saveUrl();
    });
    this.compare.setMaps([this.mapA]);
    await this.mapA.tuilerie.ready;
    addOverlays(this.mapA);
    this.bindMap();

    this.tabs = new Tabs($('.tabs'));
    this.layerPanel = new LayerPanel($('#pane-layers'), this);
    this.itemPanel = new ItemPanel($('#pane-item'), this);
    this.search = new SearchPanel($('#pane-search'), this);
    this.bindHeader();
    this.layerPanel.render();
    await this.applyCompare();
    if (this.state.selected) this.showItem(this.state.selected.collection, this.state.selected.item, false);
    window.addEventListener('hashchange', () => this.restore());
    this.writeUrl();
    this.ready = this.search.init();
    await this.ready;
    this.account.render();
  }

  /**
   * Signed in or out: what the caller may see changed, so every document,
   * layer source and tile is fetched again (with or without the key).
   */
  async authChanged() {
    this.api.clear();
    this.infos.clear();
    for (const l of this.state.layers) l.error = null;
    for (const map of [this.mapA, this.mapB]) if (map) clearRasterLayers(map);
    this.layerPanel.render();
    if (this.state.selected) this.itemPanel.show(this.state.selected.collection, this.state.selected.item);
    this.ready = this.search.init();
    await Promise.all([this.applyLayers(), this.ready]);
  }

  bindMap() {
    const map = this.mapA;
    map.on('moveend', () => {
      const c = map.getCenter();
      this.state.view = { lon: c.lng, lat: c.lat, zoom: map.getZoom() };
      this.saveUrl();
    });
    let hovered = null;
    map.on('mousemove', 'footprints-fill', (e) => {
      const f = e.features && e.features[0];
      if (f && f.id !== hovered) {
        hovered = f.id;
        this.hover(f.id, true);
      }
      map.getCanvas().style.cursor = 'pointer';
    });
    map.on('mouseleave', 'footprints-fill', () => {
      hovered = null;
      this.hover(null, true);
      map.getCanvas().style.cursor = '';
    });
    map.on('click', 'footprints-fill', (e) => {
      const f = e.features && e.features[0];
      const feature = f && this.search.features[f.id];
      if (feature) this.showItem(feature.collection, feature.id);
    });
  }

  bindHeader() {
    for (const radio of document.querySelectorAll('input[name=compare]')) {
      radio.checked = radio.value === this.state.compare.mode;
      radio.addEventListener('change', () => {
        this.state.compare.mode = radio.value;
        this.applyCompare();
      });
    }
    $('#compare-left').addEventListener('change', (e) => {
      this.state.compare.left = Number(e.target.value);
      this.applyLayers();
    });
    $('#compare-right').addEventListener('change', (e) => {
      this.state.compare.right = Number(e.target.value);
      this.applyLayers();
    });
    $('#share').addEventListener('click', () => {
      this.writeUrl();
      copy(location.href, 'link to this view');
    });
  }

  writeUrl() {
    const hash = toHash(this.state);
    this.lastHash = hash;
    // (Absolute: the page has a <base> for its assets.)
    if (location.hash !== hash) history.replaceState(null, '', `${location.pathname}${location.search}${hash}`);
  }

  /** The URL was changed by hand: apply it. */
  async restore() {
    if (location.hash === this.lastHash) return;
    const next = fromHash(location.hash, emptyState(this.config));
    this.state.layers = next.layers;
    this.state.compare = next.compare;
    this.state.view = next.view;
    this.mapA.jumpTo({ center: [next.view.lon, next.view.lat], zoom: next.view.zoom });
    for (const radio of document.querySelectorAll('input[name=compare]')) radio.checked = radio.value === next.compare.mode;
    this.layerPanel.render();
    await this.applyCompare();
  }

  note(text) {
    const el = $('#map-note');
    el.textContent = text;
    el.hidden = false;
  }

  // ---- layers ---------------------------------------------------------

  /** A layer's STAC documents, label and presets (cached). */
  info(layer) {
    const key = `${layer.kind}\n${layer.collection}\n${layer.item}`;
    if (!this.infos.has(key)) {
      const load = async () => {
        const collection = await this.api.collection(layer.collection);
        const doc = layer.kind === 'item' ? await this.api.item(layer.collection, layer.item) : collection;
        const label = layer.kind === 'item' ? (doc.properties && doc.properties.title) || doc.id : collection.title || collection.id;
        return { doc, collection, label, renders: collection.renders || {} };
      };
      const p = load();
      p.catch(() => this.infos.delete(key));
      this.infos.set(key, p);
    }
    return this.infos.get(key);
  }

  /** A layer's tile URLs, from its item's or collection's web-map links. */
  async urls(layer) {
    const { doc } = await this.info(layer);
    const path =
      layer.kind === 'item'
        ? `${this.config.api}/collections/${enc(layer.collection)}/items/${enc(layer.item)}`
        : `${this.config.api}/collections/${enc(layer.collection)}`;
    const params = { render: layer.render };
    if (layer.kind === 'collection') params.datetime = interval(layer.from, layer.to);
    const tilejson = linkOf(doc, 'tilejson') || `${path}/WebMercatorQuad/tilejson.json`;
    const xyz = linkOf(doc, 'xyz') || `${path}/tiles/WebMercatorQuad/{z}/{x}/{y}.png`;
    return { tilejson: withParams(tilejson, params), xyz: withParams(xyz, params), wms: this.config.wms };
  }

  /**
   * A layer's MapLibre source: a mosaic's TileJSON as is; an item's tiles
   * through the protocol that skips tiles away from its footprint.
   */
  async source(layer) {
    const { tilejson } = await this.urls(layer);
    if (layer.kind !== 'item') return { type: 'raster', url: tilejson, tileSize: 256 };
    const [{ doc }, tj] = await Promise.all([this.info(layer), this.api.cached(tilejson)]);
    setFootprint(layer.collection, layer.item, doc.geometry);
    const source = { type: 'raster', tiles: tj.tiles.map(routed), tileSize: 256 };
    for (const key of ['bounds', 'minzoom', 'maxzoom', 'attribution']) if (tj[key] !== undefined) source[key] = tj[key];
    return source;
  }

  layer(uid) {
    return this.state.layers.find((l) => l.uid === uid);
  }

  addLayer(layer) {
    this.state.layers.push(layer);
    this.layerPanel.render();
    this.tabs.select('tab-layers');
    this.applyLayers();
    toast('Layer added');
  }

  addItemLayer(collection, item) {
    this.addLayer(makeLayer({ kind: 'item', collection, item }));
  }

  addCollectionLayer(collection, from = '', to = '') {
    this.addLayer(makeLayer({ kind: 'collection', collection, from, to }));
  }

  /** Changes a layer; `rerender`: redraw the panel (not while dragging a slider). */
  updateLayer(uid, changes, rerender = true) {
    const layer = this.layer(uid);
    if (!layer) return;
    Object.assign(layer, changes);
    if ('render' in changes || 'from' in changes || 'to' in changes) layer.error = null;
    if (rerender) this.layerPanel.render();
    this.applyLayers();
  }

  setCollectionDates(collection, from, to) {
    let changed = false;
    for (const l of this.state.layers) {
      if (l.kind === 'collection' && l.collection === collection) {
        Object.assign(l, { from, to });
        changed = true;
      }
    }
    if (changed) {
      this.layerPanel.render();
      this.applyLayers();
    }
  }

  /** Moves a layer up (+1) or down (-1) the stack. */
  moveLayer(uid, delta) {
    const layers = this.state.layers;
    const i = layers.findIndex((l) => l.uid === uid);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= layers.length) return;
    [layers[i], layers[j]] = [layers[j], layers[i]];
    this.layerPanel.render();
    this.applyLayers();
  }

  removeLayer(uid) {
    this.state.layers = this.state.layers.filter((l) => l.uid !== uid);
    const c = this.state.compare;
    if (c.left === uid) c.left = null;
    if (c.right === uid) c.right = null;
    this.layerPanel.render();
    this.applyLayers();
  }

  layerError(uid, message, what = 'Some tiles failed') {
    const layer = this.layer(uid);
    if (layer && !layer.error) {
      layer.error = `${what}: ${message}`;
      this.layerPanel.showError(uid, layer.error);
    }
  }

  async zoomToLayer(uid) {
    const layer = this.layer(uid);
    if (!layer) return;
    const { doc } = await this.info(layer);
    this.zoomTo(doc.bbox || ((doc.extent || {}).spatial || {}).bbox?.[0]);
  }

  zoomTo(bbox) {
    if (!bbox || bbox.length < 4) return;
    const [w, s, e, n] = bbox.length === 6 ? [bbox[0], bbox[1], bbox[3], bbox[4]] : bbox;
    this.mapA.fitBounds([[w, s], [e, n]], { padding: 40, maxZoom: 16, duration: 0 });
  }

  /** The two layers compared: chosen ones, else the top two. */
  comparePair() {
    const layers = this.state.layers;
    const c = this.state.compare;
    const has = (uid) => layers.some((l) => l.uid === uid);
    const top = layers[layers.length - 1];
    const below = layers[layers.length - 2] || top;
    if (!has(c.right)) c.right = top ? top.uid : null;
    if (!has(c.left)) c.left = below ? below.uid : null;
    return [this.layer(c.left), this.layer(c.right)];
  }

  /** Puts the layers on the map(s), according to the compare mode. */
  async applyLayers() {
    const seq = (this.applySeq = (this.applySeq || 0) + 1);
    this.saveUrl();
    const mode = this.state.compare.mode;
    let onA = this.state.layers;
    let onB = [];
    if (mode !== 'none') {
      const [left, right] = this.comparePair();
      onA = left ? [left] : [];
      onB = right ? [right] : [];
      this.fillCompareSelects();
    }
    const resolve = (layers) =>
      Promise.all(
        layers.map(async (l) => {
          try {
            return { uid: l.uid, source: await this.source(l), opacity: l.opacity, visible: l.visible };
          } catch (e) {
            this.layerError(l.uid, e.message, 'Cannot load this layer');
            return null;
          }
        }),
      );
    const [a, b] = await Promise.all([resolve(onA), resolve(onB)]);
    if (seq !== this.applySeq) return;
    syncRasterLayers(this.mapA, a.filter(Boolean));
    if (this.mapB) {
      await this.mapB.tuilerie.ready;
      if (seq !== this.applySeq || !this.mapB) return;
      syncRasterLayers(this.mapB, b.filter(Boolean));
    }
  }

  fillCompareSelects() {
    const c = this.state.compare;
    for (const [select, uid] of [[$('#compare-left'), c.left], [$('#compare-right'), c.right]]) {
      select.replaceChildren(
        ...[...this.state.layers].reverse().map((l) => {
          const option = h('option', { value: l.uid, text: `${l.collection}${l.item ? ` / ${l.item}` : ''}`, selected: l.uid === uid });
          this.info(l).then((i) => (option.textContent = i.label), () => {});
          return option;
        }),
      );
    }
  }

  async applyCompare() {
    const c = this.state.compare;
    const on = c.mode !== 'none';
    for (const el of document.querySelectorAll('.compare-pick')) el.hidden = !on;
    if (on && !this.mapB) {
      const container = $('#map-b');
      container.hidden = false;
      this.mapB = createMap(container, this.config, this.state.view, this.hooks);
      this.unsync = syncMaps(this.mapA, this.mapB);
    } else if (!on && this.mapB) {
      this.unsync();
      this.mapB.remove();
      this.mapB = null;
      $('#map-b').hidden = true;
      $('#map-b').style.clipPath = '';
    }
    this.compare.setMaps(this.mapB ? [this.mapA, this.mapB] : [this.mapA]);
    this.compare.setMode(c.mode, c.split);
    await this.applyLayers();
  }

  // ---- results and items ------------------------------------------------

  showFootprints(features) {
    const source = this.mapA.getSource('footprints');
    if (!source) return;
    source.setData({
      type: 'FeatureCollection',
      features: features
        .map((f, i) => (f.geometry ? { type: 'Feature', id: i, properties: { id: f.id }, geometry: f.geometry } : null))
        .filter(Boolean),
    });
  }

  /** Highlights result `index` on the map and in the list. */
  hover(index, fromMap = false) {
    if (this.hovered !== undefined && this.hovered !== null) {
      this.mapA.setFeatureState({ source: 'footprints', id: this.hovered }, { hover: false });
    }
    this.hovered = index;
    if (index !== null) this.mapA.setFeatureState({ source: 'footprints', id: index }, { hover: true });
    if (fromMap) this.search.highlight(index);
  }

  showItem(collection, item, select = true) {
    this.state.selected = { collection, item };
    this.saveUrl();
    this.itemPanel.show(collection, item);
    if (select) this.tabs.select('tab-item');
  }

  /** Resolves when every map has finished loading (used by the tests). */
  idle() {
    return whenIdle(this.mapB ? [this.mapA, this.mapB] : [this.mapA]);
  }
}

const app = new App();
window.tuilerie = app;
app.start().catch((e) => {
  document.body.prepend(h('p', { class: 'fatal', role: 'alert', text: `The viewer could not start: ${e.message}` }));
});
