// The item panel: properties, assets, links and the raw STAC JSON of an item.
import { h, copy } from './dom.js';
import { linkOf } from './api.js';
import { apiKey, authImage, withKey } from './auth.js';

const format = (value) => {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object')) return value.join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
};

const safeHref = (href) => (/^https?:\/\//.test(href || '') ? href : null);

export class ItemPanel {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.root.append(h('p', { class: 'hint', text: 'Choose an item in the results (or click a footprint) to see its details.' }));
  }

  async show(collection, id) {
    this.root.replaceChildren(h('p', { class: 'hint', text: `Loading ${id}…` }));
    let item;
    try {
      item = await this.app.api.item(collection, id);
    } catch (e) {
      this.root.replaceChildren(h('p', { class: 'error', text: `Could not load ${collection}/${id}: ${e.message}` }));
      return;
    }
    const p = item.properties || {};
    const title = p.title || item.id;
    const tilejson = linkOf(item, 'tilejson');
    const xyz = linkOf(item, 'xyz');
    const preview = h('img', {
      class: 'item-preview',
      alt: `Preview of ${title}`,
      onerror: (e) => e.target.replaceWith(h('p', { class: 'hint', text: 'No preview for this item.' })),
    });
    authImage(preview, this.app.api.previewUrl(item.collection, item.id, 320));
    // Signed in, the copied URLs carry the key (QGIS cannot send a header).
    const keyed = apiKey() ? ' with your API key' : '';
    const tip = (what) => (keyed ? `Copy the ${what} with your API key (api_key=…) for QGIS and other clients; keep it private` : `Copy the ${what}`);
    this.root.replaceChildren(
      h('h2', { class: 'item-title', text: title }),
      h('p', { class: 'sub' }, `${item.collection} · ${item.id}`),
      preview,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'primary', onclick: () => this.app.addItemLayer(item.collection, item.id) }, 'Add as layer'),
        h('button', { type: 'button', onclick: () => this.app.zoomTo(item.bbox) }, 'Zoom to'),
        xyz && h('button', { type: 'button', id: 'item-copy-xyz', title: tip('XYZ template'), onclick: () => copy(withKey(xyz), `XYZ template${keyed}`) }, 'Copy XYZ'),
        tilejson &&
          h('button', { type: 'button', id: 'item-copy-tilejson', title: tip('TileJSON URL'), onclick: () => copy(withKey(tilejson), `TileJSON URL${keyed}`) }, 'Copy TileJSON'),
      ),
      h('h3', { text: 'Properties' }),
      h(
        'table',
        { class: 'props' },
        h('tbody', {}, Object.entries(p).map(([k, v]) => h('tr', {}, h('th', { scope: 'row', text: k }), h('td', { text: format(v) })))),
      ),
      h('h3', { text: 'Assets' }),
      h(
        'ul',
        { class: 'assets' },
        Object.entries(item.assets || {}).map(([key, a]) =>
          h(
            'li',
            {},
            h('strong', { text: key }),
            a.title ? ` — ${a.title}` : '',
            h('div', { class: 'sub', text: [a.type, (a.roles || []).join(', ')].filter(Boolean).join(' · ') }),
            safeHref(a.href) ? h('a', { href: a.href, text: a.href, class: 'href' }) : h('code', { class: 'href', text: a.href }),
          ),
        ),
      ),
      h('h3', { text: 'Links' }),
      h(
        'ul',
        { class: 'links' },
        (item.links || []).map((l) =>
          h(
            'li',
            {},
            h('span', { class: 'rel', text: l.rel }),
            ' ',
            safeHref(l.href) ? h('a', { href: l.href, text: l.title || l.href }) : h('code', { text: l.href }),
          ),
        ),
      ),
      h('details', { class: 'raw' }, h('summary', { text: 'Raw STAC JSON' }), h('pre', { text: JSON.stringify(item, null, 2) })),
    );
  }
}
