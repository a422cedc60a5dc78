// The search panel: collections (thematic), free text, dates and a time
// slider (temporal), the area (geographic: this view or a drawn box),
// queryable filters, and the result list.
import { h, day, toast } from './dom.js';
import { interval } from './api.js';
import { apiKey, authImage } from './auth.js';
import { filterSpecs, filterControls, cql2 } from './filters.js';
import { bboxPolygon } from './maps.js';
import { BoxDrawing } from './draw.js';

const PAGE = 50;

export class SearchPanel {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.collections = [];
    this.specs = [];
    this.dates = [];
    this.features = [];
    this.next = null;
    this.build();
  }

  get s() {
    return this.app.state.search;
  }

  build() {
    const s = this.s;
    this.collectionSelect = h('select', { id: 's-collection', onchange: (e) => this.chooseCollection(e.target.value) });
    this.card = h('div', { class: 'collection-card', id: 'collection-card' });
    this.q = h('input', { type: 'search', id: 's-q', value: s.q, placeholder: 'e.g. ventoux, "forest loss"', autocomplete: 'off' });
    this.from = h('input', { type: 'date', id: 's-from', value: s.from });
    this.to = h('input', { type: 'date', id: 's-to', value: s.to });
    this.timeOut = h('output', { id: 's-time-out', for: 's-time' });
    this.time = h('input', {
      type: 'range',
      id: 's-time',
      min: 0,
      max: 0,
      value: 0,
      oninput: () => (this.timeOut.textContent = this.dates[Number(this.time.value)] || ''),
      onchange: () => this.pickDate(Number(this.time.value)),
    });
    this.timeLayers = h('input', { type: 'checkbox', id: 's-time-layers', checked: true });
    this.timeBox = h(
      'fieldset',
      { class: 'time', hidden: true },
      h('legend', { text: 'Time slider' }),
      h('label', { for: 's-time' }, 'Date: ', this.timeOut),
      h(
        'div',
        { class: 'time-row' },
        h('button', { type: 'button', 'aria-label': 'Previous date', onclick: () => this.step(-1) }, '◀'),
        this.time,
        h('button', { type: 'button', 'aria-label': 'Next date', onclick: () => this.step(1) }, '▶'),
      ),
      h('label', { class: 'check' }, this.timeLayers, " Also move this collection's mosaic layers"),
    );
    this.filters = h('div', { class: 'filters', id: 's-filters' });
    this.filterBox = h('details', { class: 'filter-box', open: true, hidden: true }, h('summary', { text: 'Filters' }), this.filters);
    this.area = h('span', { id: 's-area', class: 'area-text' });
    this.drawButton = h('button', { type: 'button', id: 's-draw', 'aria-pressed': 'false', onclick: () => this.toggleDraw() }, 'Draw a box');
    this.status = h('p', { class: 'count', id: 'result-count', role: 'status' });
    this.list = h('ul', { class: 'results', id: 'results', 'aria-label': 'Search results' });
    this.more = h('button', { type: 'button', class: 'more', hidden: true, onclick: () => this.loadMore() }, 'More results');

    const form = h(
      'form',
      { class: 'search-form', onsubmit: (e) => (e.preventDefault(), this.submit()) },
      h('label', { for: 's-collection', text: 'Collection' }),
      this.collectionSelect,
      this.card,
      h('label', { for: 's-q', text: 'Free text (title, description, keywords)' }),
      this.q,
      h(
        'fieldset',
        { class: 'dates' },
        h('legend', { text: 'Dates' }),
        h('label', { for: 's-from' }, 'From', this.from),
        h('label', { for: 's-to' }, 'To', this.to),
      ),
      this.timeBox,
      this.filterBox,
      h(
        'fieldset',
        { class: 'area' },
        h('legend', { text: 'Area' }),
        this.area,
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', id: 's-view', onclick: () => this.searchView() }, 'Search this view'),
          this.drawButton,
          h('button', { type: 'button', id: 's-clear-area', onclick: () => this.setBbox(null, true) }, 'Anywhere'),
        ),
      ),
      h('div', { class: 'actions submit' }, h('button', { type: 'submit', class: 'primary', id: 's-submit' }, 'Search'), h('button', { type: 'button', onclick: () => this.reset() }, 'Reset')),
    );
    this.root.append(form, h('section', { class: 'result-box', 'aria-label': 'Results' }, this.status, this.list, this.more));
    this.drawing = new BoxDrawing(this.app.mapA, (bbox) => {
      this.drawButton.setAttribute('aria-pressed', 'false');
      if (bbox) this.setBbox(bbox, true);
    });
  }

  async init() {
    try {
      this.collections = await this.app.api.collections();
    } catch (e) {
      this.status.textContent = `Could not list the collections: ${e.message}`;
      return;
    }
    if (this.s.collection && !this.collection(this.s.collection)) {
      toast(`The collection ${this.s.collection} is not available${apiKey() ? ' to you' : ': it may need signing in'}`);
      this.s.collection = '';
      this.s.filters = {};
    }
    this.collectionSelect.replaceChildren(
      h('option', { value: '', text: 'All collections' }),
      ...this.collections.map((c) => h('option', { value: c.id, text: c.title || c.id, selected: c.id === this.s.collection })),
    );
    this.setBbox(this.s.bbox, false);
    await this.chooseCollection(this.s.collection, false);
    await this.submit();
  }

  collection(id) {
    return this.collections.find((c) => c.id === id);
  }

  /** Selects a collection: its card, filters and dates. */
  async chooseCollection(id, reset = true) {
    if (reset) {
      this.s.collection = id;
      this.s.filters = {};
    }
    this.collectionSelect.value = id;
    this.renderCard();
    this.specs = [];
    this.filters.replaceChildren();
    this.filterBox.hidden = true;
    this.timeBox.hidden = true;
    if (!id) {
      this.app.saveUrl();
      return;
    }
    const [queryables, dates] = await Promise.allSettled([this.app.api.queryables(id), this.app.api.dates(id)]);
    if (this.s.collection !== id) return;
    if (queryables.status === 'fulfilled') {
      this.specs = filterSpecs(queryables.value);
      this.filters.replaceChildren(
        ...filterControls(this.specs, this.s.filters, (name, value) => {
          if (value === '') delete this.s.filters[name];
          else this.s.filters[name] = value;
          this.submit();
        }),
      );
      this.filterBox.hidden = this.specs.length === 0;
    }
    if (dates.status === 'fulfilled' && dates.value.length > 1) {
      this.dates = dates.value;
      this.time.max = String(this.dates.length - 1);
      const i = this.s.from && this.s.from === this.s.to ? this.dates.indexOf(this.s.from) : -1;
      this.time.value = String(i >= 0 ? i : this.dates.length - 1);
      this.timeOut.textContent = i >= 0 ? this.dates[i] : `${this.dates.length} dates, ${this.dates[0]} to ${this.dates[this.dates.length - 1]}`;
      this.timeBox.hidden = false;
    }
    this.app.saveUrl();
    if (reset) this.submit();
  }

  renderCard() {
    const c = this.collection(this.s.collection);
    if (!c) {
      this.card.replaceChildren(
        h('p', { class: 'hint', text: `${this.collections.length} collections:` }),
        h(
          'ul',
          { class: 'collection-list' },
          this.collections.map((col) =>
            h(
              'li',
              {},
              h('button', { type: 'button', class: 'link', onclick: () => this.chooseCollection(col.id) }, col.title || col.id),
              h('div', { class: 'sub', text: `${providers(col)} · licence ${col.license || 'unknown'}` }),
            ),
          ),
        ),
      );
      return;
    }
    const licence = (c.links || []).find((l) => l.rel === 'license');
    const temporal = (((c.extent || {}).temporal || {}).interval || [[null, null]])[0];
    this.card.replaceChildren(
      h('h2', { class: 'collection-title', text: c.title || c.id }),
      h('p', { class: 'description', text: summary(c.description) }),
      h(
        'dl',
        { class: 'facts' },
        h('dt', { text: 'Providers' }),
        h('dd', { text: providers(c) || '—' }),
        h('dt', { text: 'Licence' }),
        h('dd', {}, licence && /^https?:/.test(licence.href) ? h('a', { href: licence.href, text: c.license || 'licence' }) : c.license || '—'),
        h('dt', { text: 'Time span' }),
        h('dd', { text: `${day(temporal[0]) || '…'} to ${day(temporal[1]) || 'now'}` }),
      ),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', onclick: () => this.app.addCollectionLayer(c.id, this.s.from, this.s.to) }, 'Add as mosaic layer'),
        h('button', { type: 'button', onclick: () => this.app.zoomTo(((c.extent || {}).spatial || {}).bbox?.[0]) }, 'Zoom to extent'),
      ),
    );
  }

  step(delta) {
    const i = Math.min(this.dates.length - 1, Math.max(0, Number(this.time.value) + delta));
    this.time.value = String(i);
    this.pickDate(i);
  }

  /** The time slider chose a date: search it, and move mosaic layers. */
  pickDate(i) {
    const d = this.dates[i];
    if (!d) return;
    this.timeOut.textContent = d;
    this.from.value = d;
    this.to.value = d;
    if (this.timeLayers.checked) this.app.setCollectionDates(this.s.collection, d, d);
    this.submit();
  }

  setBbox(bbox, search) {
    this.s.bbox = bbox;
    this.area.textContent = bbox ? `Box ${bbox.map((x) => x.toFixed(3)).join(', ')}` : 'Anywhere';
    const source = this.app.mapA.getSource('draw');
    if (source) source.setData({ type: 'FeatureCollection', features: bbox ? [bboxPolygon(bbox)] : [] });
    if (search) this.submit();
    else this.app.saveUrl();
  }

  searchView() {
    const b = this.app.mapA.getBounds();
    const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
    this.setBbox([clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)], true);
  }

  toggleDraw() {
    if (this.drawing.active) {
      this.drawing.stop();
      this.drawButton.setAttribute('aria-pressed', 'false');
      return;
    }
    this.drawButton.setAttribute('aria-pressed', 'true');
    this.drawing.start();
    toast('Drag on the map to draw the search box (Esc cancels)');
  }

  reset() {
    Object.assign(this.s, { q: '', from: '', to: '', filters: {} });
    this.q.value = '';
    this.from.value = '';
    this.to.value = '';
    this.setBbox(null, false);
    this.chooseCollection('', true).then(() => this.submit());
  }

  body() {
    const s = this.s;
    s.q = this.q.value.trim();
    s.from = this.from.value;
    s.to = this.to.value;
    const body = { limit: PAGE };
    if (s.collection) body.collections = [s.collection];
    if (s.q) body.q = s.q;
    const dt = interval(s.from, s.to);
    if (dt) body.datetime = dt;
    if (s.bbox) body.bbox = s.bbox;
    const filter = s.collection ? cql2(this.specs, s.filters) : null;
    if (filter) {
      body.filter = filter;
      body['filter-lang'] = 'cql2-json';
    }
    return body;
  }

  async submit() {
    const seq = (this.seq = (this.seq || 0) + 1);
    this.status.textContent = 'Searching…';
    this.app.saveUrl();
    let page;
    try {
      page = await this.app.api.search(this.body());
    } catch (e) {
      if (seq === this.seq) this.status.textContent = `Search failed: ${e.message}`;
      return;
    }
    if (seq !== this.seq) return;
    this.features = [];
    this.list.replaceChildren();
    this.addPage(page);
  }

  async loadMore() {
    if (!this.next) return;
    try {
      this.addPage(await this.app.api.follow(this.next));
    } catch (e) {
      toast(`Could not load more results: ${e.message}`);
    }
  }

  addPage(page) {
    const start = this.features.length;
    const features = page.features || [];
    this.features.push(...features);
    this.next = (page.links || []).find((l) => l.rel === 'next') || null;
    this.more.hidden = !this.next;
    const matched = page.numberMatched ?? page.context?.matched;
    this.status.textContent =
      this.features.length === 0
        ? 'No item matches.'
        : `${this.features.length}${matched !== undefined ? ` of ${matched}` : ''} items`;
    this.list.append(...features.map((f, k) => this.row(f, start + k)));
    this.app.showFootprints(this.features);
  }

  row(f, index) {
    const p = f.properties || {};
    const title = p.title || f.id;
    const when = day(p.datetime || p.start_datetime);
    const cloud = p['eo:cloud_cover'];
    const thumb = h('img', {
      class: 'thumb',
      loading: 'lazy',
      width: 72,
      height: 72,
      alt: '',
      onerror: (e) => e.target.classList.add('broken'),
    });
    authImage(thumb, this.app.api.previewUrl(f.collection, f.id, 96));
    const li = h(
      'li',
      {
        class: 'result',
        'data-index': index,
        'data-id': f.id,
        onmouseenter: () => this.app.hover(index),
        onmouseleave: () => this.app.hover(null),
        onfocusin: () => this.app.hover(index),
        onfocusout: () => this.app.hover(null),
      },
      thumb,
      h(
        'div',
        { class: 'meta' },
        h('button', { type: 'button', class: 'link title', onclick: () => this.app.showItem(f.collection, f.id) }, title),
        h('div', { class: 'sub', text: [f.collection, when, cloud !== undefined ? `cloud ${Math.round(cloud)} %` : ''].filter(Boolean).join(' · ') }),
        h(
          'div',
          { class: 'actions small' },
          h('button', { type: 'button', 'aria-label': `Add ${title} as a layer`, onclick: () => this.app.addItemLayer(f.collection, f.id) }, 'Add layer'),
          h('button', { type: 'button', 'aria-label': `Zoom to ${title}`, onclick: () => this.app.zoomTo(f.bbox) }, 'Zoom'),
        ),
      ),
    );
    return li;
  }

  /** Highlights the row of result `index` (from a hovered footprint). */
  highlight(index) {
    for (const li of this.list.querySelectorAll('.result.hot')) li.classList.remove('hot');
    if (index === null) return;
    const li = this.list.querySelector(`.result[data-index="${index}"]`);
    if (li) {
      li.classList.add('hot');
      li.scrollIntoView({ block: 'nearest' });
    }
  }
}

function providers(c) {
  return (c.providers || []).map((p) => p.name).join(', ');
}

/** The first paragraph of a Markdown description, as plain text. */
function summary(text) {
  const first = String(text || '').split(/\n\s*\n/)[0];
  const plain = first.replace(/\*\*|__|`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
  return plain.length > 360 ? `${plain.slice(0, 357)}…` : plain;
}

