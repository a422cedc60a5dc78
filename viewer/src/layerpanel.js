// The layers panel: one card a layer (top of the stack first) with its
// visibility, render preset, opacity, dates (mosaics), order, removal and
// the copy buttons (XYZ template, TileJSON URL, WMS capabilities URL).
import { h, copy } from './dom.js';
import { apiKey, withKey } from './auth.js';

export class LayerPanel {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.list = h('ol', { class: 'layers', id: 'layer-list', 'aria-label': 'Layers, top first' });
    this.empty = h('p', { class: 'hint', text: 'No layer yet: add an item or a collection mosaic from the search results.' });
    this.root.append(this.empty, this.list);
  }

  render() {
    const focused = document.activeElement && this.root.contains(document.activeElement) ? document.activeElement.id : null;
    const layers = this.app.state.layers;
    this.empty.hidden = layers.length > 0;
    document.getElementById('layer-count').textContent = String(layers.length);
    this.list.replaceChildren(...[...layers].reverse().map((l, k) => this.card(l, k === 0, k === layers.length - 1)));
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  }

  card(layer, top, bottom) {
    const id = (what) => `layer-${layer.uid}-${what}`;
    const name = h('label', { for: id('visible'), class: 'layer-name', text: `${layer.collection}${layer.item ? ` / ${layer.item}` : ''}` });
    const renders = h('select', {
      id: id('render'),
      onchange: (e) => this.app.updateLayer(layer.uid, { render: e.target.value }),
    }, h('option', { value: '', text: 'Default' }));
    const error = h('p', { class: 'error', id: id('error'), hidden: true });
    const opacityOut = h('output', { for: id('opacity'), text: `${Math.round(layer.opacity * 100)} %` });
    const li = h(
      'li',
      { class: `layer${layer.visible ? '' : ' hidden-layer'}`, 'data-uid': layer.uid },
      h(
        'div',
        { class: 'layer-head' },
        h('input', {
          type: 'checkbox',
          id: id('visible'),
          checked: layer.visible,
          title: 'Show or hide',
          onchange: (e) => this.app.updateLayer(layer.uid, { visible: e.target.checked }),
        }),
        name,
        h('span', { class: `kind kind-${layer.kind}`, text: layer.kind === 'collection' ? 'mosaic' : 'item' }),
      ),
      h('div', { class: 'row' }, h('label', { for: id('render'), text: 'Rendering' }), renders),
      h(
        'div',
        { class: 'row' },
        h('label', { for: id('opacity'), text: 'Opacity' }),
        h('input', {
          type: 'range',
          id: id('opacity'),
          min: 0,
          max: 100,
          step: 5,
          value: Math.round(layer.opacity * 100),
          oninput: (e) => {
            opacityOut.textContent = `${e.target.value} %`;
            this.app.updateLayer(layer.uid, { opacity: Number(e.target.value) / 100 }, false);
          },
        }),
        opacityOut,
      ),
      layer.kind === 'collection' &&
        h(
          'div',
          { class: 'row dates' },
          h('label', { for: id('from'), text: 'From' }),
          h('input', { type: 'date', id: id('from'), value: layer.from, onchange: (e) => this.app.updateLayer(layer.uid, { from: e.target.value }) }),
          h('label', { for: id('to'), text: 'to' }),
          h('input', { type: 'date', id: id('to'), value: layer.to, onchange: (e) => this.app.updateLayer(layer.uid, { to: e.target.value }) }),
        ),
      h(
        'div',
        { class: 'actions small' },
        h('button', { type: 'button', id: id('up'), disabled: top, 'aria-label': 'Move up', title: 'Move up', onclick: () => this.app.moveLayer(layer.uid, 1) }, '↑'),
        h('button', { type: 'button', id: id('down'), disabled: bottom, 'aria-label': 'Move down', title: 'Move down', onclick: () => this.app.moveLayer(layer.uid, -1) }, '↓'),
        h('button', { type: 'button', id: id('zoom'), onclick: () => this.app.zoomToLayer(layer.uid) }, 'Zoom'),
        h('button', { type: 'button', id: id('remove'), class: 'danger', onclick: () => this.app.removeLayer(layer.uid) }, 'Remove'),
      ),
      this.copyButtons(layer, id),
      error,
    );
    this.app.info(layer).then(
      (info) => {
        name.textContent = info.label;
        for (const [key, preset] of Object.entries(info.renders)) {
          renders.append(h('option', { value: key, text: preset.title || key, selected: key === layer.render }));
        }
        if (layer.error) this.showError(layer.uid, layer.error);
      },
      (e) => this.showError(layer.uid, `Cannot load this layer: ${e.message}`),
    );
    return li;
  }

  /** The copy buttons; signed in, they copy URLs that carry the key, and say so. */
  copyButtons(layer, id) {
    const keyed = Boolean(apiKey());
    const names = { xyz: 'XYZ template', tilejson: 'TileJSON URL', wms: 'WMS capabilities URL' };
    const button = (what, text) =>
      h(
        'button',
        {
          type: 'button',
          id: id(`copy-${what}`),
          title: keyed
            ? `Copy the ${names[what]} with your API key (api_key=…), for QGIS and other clients that cannot send it in a header; keep it private`
            : `Copy the ${names[what]}`,
          'aria-label': `Copy the ${names[what]}${keyed ? ' with your API key' : ''}`,
          onclick: () => this.copyUrl(layer, what),
        },
        text,
      );
    return h(
      'div',
      { class: 'actions small copy', role: 'group', 'aria-label': 'Copy URLs for QGIS and web maps' },
      h('span', { class: 'sub', text: keyed ? 'Copy (with your key)' : 'Copy' }),
      button('xyz', 'XYZ'),
      button('tilejson', 'TileJSON'),
      button('wms', 'WMS'),
    );
  }

  async copyUrl(layer, what) {
    try {
      const urls = await this.app.urls(layer);
      const keyed = apiKey() ? ' with your API key' : '';
      const names = { xyz: 'XYZ template', tilejson: 'TileJSON URL', wms: `WMS URL (layer ${layer.collection})` };
      await copy(withKey(urls[what]), `${names[what]}${keyed}`);
    } catch (e) {
      this.showError(layer.uid, e.message);
    }
  }

  showError(uid, message) {
    const el = document.getElementById(`layer-${uid}-error`);
    if (el) {
      el.textContent = message;
      el.hidden = false;
    }
  }
}
