// The viewer's whole state, and its round trip through the URL fragment:
//   #map=ZOOM/LAT/LON&layer=KIND,COLLECTION,ITEM,RENDER,OPACITY%,VISIBLE,FROM,TO
//    &compare=swipe|side&split=PERCENT&left=INDEX&right=INDEX
//    &collection=ID&q=TEXT&from=DAY&to=DAY&bbox=W,S,E,N&f=PROPERTY:VALUE&item=COLLECTION/ID
// Layers are listed bottom first; fields are percent-encoded, so ids may
// contain any character.

let nextUid = 1;

/** A new layer (kind `item` or `collection`). */
export function makeLayer(fields) {
  return {
    uid: nextUid++,
    kind: 'item',
    collection: '',
    item: '',
    render: '',
    opacity: 1,
    visible: true,
    from: '',
    to: '',
    ...fields,
  };
}

export function emptyState(config) {
  const [lon, lat] = config.center || [2.5, 46.6];
  return {
    view: { lon, lat, zoom: config.zoom ?? 5 },
    layers: [],
    compare: { mode: 'none', left: null, right: null, split: 0.5 },
    search: { collection: '', q: '', from: '', to: '', bbox: null, filters: {} },
    selected: null,
  };
}

const enc = encodeURIComponent;
const dec = (s) => {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
};
const round = (x, digits) => Number(x.toFixed(digits));

function layerToken(l) {
  const fields = [
    l.kind === 'collection' ? 'c' : 'i',
    l.collection,
    l.kind === 'item' ? l.item : '',
    l.render,
    String(Math.round(l.opacity * 100)),
    l.visible ? '1' : '0',
    l.from,
    l.to,
  ];
  while (fields.length > 6 && !fields[fields.length - 1]) fields.pop();
  return fields.map((f) => enc(f || '')).join(',');
}

function parseLayer(raw) {
  const [kind, collection, item, render, opacity, visible, from, to] = raw.split(',').map(dec);
  if (!collection || (kind !== 'c' && kind !== 'i') || (kind === 'i' && !item)) return null;
  const o = Number(opacity);
  return makeLayer({
    kind: kind === 'c' ? 'collection' : 'item',
    collection,
    item: kind === 'i' ? item : '',
    render: render || '',
    opacity: Number.isFinite(o) && opacity !== '' ? Math.min(1, Math.max(0, o / 100)) : 1,
    visible: visible !== '0',
    from: from || '',
    to: to || '',
  });
}

/** The URL fragment of a state. */
export function toHash(state) {
  const parts = [];
  const v = state.view;
  parts.push(`map=${round(v.zoom, 2)}/${round(v.lat, 5)}/${round(v.lon, 5)}`);
  for (const l of state.layers) parts.push(`layer=${layerToken(l)}`);
  const c = state.compare;
  if (c.mode !== 'none') {
    parts.push(`compare=${c.mode}`, `split=${Math.round(c.split * 1000) / 10}`);
    const index = (uid) => state.layers.findIndex((l) => l.uid === uid);
    if (index(c.left) >= 0) parts.push(`left=${index(c.left)}`);
    if (index(c.right) >= 0) parts.push(`right=${index(c.right)}`);
  }
  const s = state.search;
  if (s.collection) parts.push(`collection=${enc(s.collection)}`);
  if (s.q) parts.push(`q=${enc(s.q)}`);
  if (s.from) parts.push(`from=${enc(s.from)}`);
  if (s.to) parts.push(`to=${enc(s.to)}`);
  if (s.bbox) parts.push(`bbox=${s.bbox.map((x) => round(x, 5)).join(',')}`);
  for (const [k, value] of Object.entries(s.filters)) parts.push(`f=${enc(k)}:${enc(String(value))}`);
  if (state.selected) parts.push(`item=${enc(state.selected.collection)}/${enc(state.selected.item)}`);
  return `#${parts.join('&')}`;
}

/** A state from a URL fragment, over defaults. Unknown or broken parts are ignored. */
export function fromHash(hash, defaults) {
  const state = structuredClone(defaults);
  const params = [];
  for (const part of hash.replace(/^#/, '').split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    params.push(i < 0 ? [part, ''] : [part.slice(0, i), part.slice(i + 1)]);
  }
  let left = null;
  let right = null;
  for (const [key, raw] of params) {
    switch (key) {
      case 'map': {
        const [z, lat, lon] = raw.split('/').map(Number);
        if ([z, lat, lon].every(Number.isFinite)) state.view = { zoom: z, lat, lon };
        break;
      }
      case 'layer': {
        const l = parseLayer(raw);
        if (l) state.layers.push(l);
        break;
      }
      case 'compare':
        if (raw === 'swipe' || raw === 'side') state.compare.mode = raw;
        break;
      case 'split': {
        const s = Number(raw);
        if (Number.isFinite(s)) state.compare.split = Math.min(1, Math.max(0, s / 100));
        break;
      }
      case 'left':
        left = Number(raw);
        break;
      case 'right':
        right = Number(raw);
        break;
      case 'collection':
      case 'q':
      case 'from':
      case 'to':
        state.search[key] = dec(raw);
        break;
      case 'bbox': {
        const b = raw.split(',').map(Number);
        if (b.length === 4 && b.every(Number.isFinite)) state.search.bbox = b;
        break;
      }
      case 'f': {
        const i = raw.indexOf(':');
        if (i > 0) state.search.filters[dec(raw.slice(0, i))] = dec(raw.slice(i + 1));
        break;
      }
      case 'item': {
        const i = raw.indexOf('/');
        if (i > 0) state.selected = { collection: dec(raw.slice(0, i)), item: dec(raw.slice(i + 1)) };
        break;
      }
      default:
        break;
    }
  }
  const uidAt = (i) => (Number.isInteger(i) && state.layers[i] ? state.layers[i].uid : null);
  state.compare.left = uidAt(left);
  state.compare.right = uidAt(right);
  return state;
}
