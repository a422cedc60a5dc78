// The STAC API and tile endpoints of the server the page comes from.
import { authHeaders } from './auth.js';

export class Api {
  /** `base`: the API root without a trailing slash (from config.json). */
  constructor(base) {
    this.base = base.replace(/\/$/, '');
    this.cache = new Map();
  }

  url(path) {
    return /^https?:/.test(path) ? path : `${this.base}${path}`;
  }

  async request(path, init = {}) {
    const url = this.url(path);
    const res = await fetch(url, {
      ...init,
      headers: { accept: 'application/json', ...authHeaders(url), ...(init.headers || {}) },
    });
    const text = await res.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!res.ok) {
      const why = body && body.description ? body.description : `${res.status} ${res.statusText}`;
      const error = new Error(why);
      error.status = res.status;
      error.code = body && body.code;
      throw error;
    }
    return body;
  }

  /** Forgets the cached documents (what the caller may see changed). */
  clear() {
    this.cache.clear();
  }

  /** `GET /me` as the holder of `key` (not yet remembered), or as the current caller. */
  me(key) {
    return this.request('/me', key ? { headers: { authorization: `Bearer ${key}` } } : {});
  }

  get(path) {
    return this.request(path);
  }

  /** GET with a cache (collections, items and queryables change rarely). */
  cached(path) {
    if (!this.cache.has(path)) {
      const p = this.get(path);
      p.catch(() => this.cache.delete(path));
      this.cache.set(path, p);
    }
    return this.cache.get(path);
  }

  post(path, body) {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  /** Follows a `next` link (GET, or POST with its body). */
  follow(link) {
    if ((link.method || 'GET').toUpperCase() === 'POST') return this.post(link.href, link.body || {});
    return this.get(link.href);
  }

  async collections() {
    const doc = await this.cached('/collections?limit=1000');
    return doc.collections || [];
  }

  collection(id) {
    return this.cached(`/collections/${encodeURIComponent(id)}`);
  }

  item(collection, id) {
    return this.cached(`/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(id)}`);
  }

  queryables(collection) {
    return this.cached(`/collections/${encodeURIComponent(collection)}/queryables`);
  }

  search(body) {
    return this.post('/search', body);
  }

  /** The distinct days (YYYY-MM-DD, ascending) of a collection's items. */
  async dates(collection) {
    const fields = 'properties.datetime,properties.start_datetime';
    const doc = await this.cached(
      `/collections/${encodeURIComponent(collection)}/items?limit=2000&fields=${fields}&sortby=%2Bdatetime`,
    );
    const days = new Set();
    for (const f of doc.features || []) {
      const p = f.properties || {};
      const d = p.datetime || p.start_datetime;
      if (d) days.add(String(d).slice(0, 10));
    }
    return [...days].sort();
  }

  /** A small rendered preview of an item. */
  previewUrl(collection, id, size = 96) {
    return this.url(
      `/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(id)}/preview.png?max_size=${size}`,
    );
  }
}

/** The `href` of the first link with `rel`, or null. */
export function linkOf(doc, rel) {
  const link = (doc && doc.links ? doc.links : []).find((l) => l.rel === rel);
  return link ? link.href : null;
}

/** `url` with query parameters added (skipping empty values). */
export function withParams(url, params) {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
  }
  // Keep the template braces of XYZ URLs readable.
  return u.toString().replace(/%7B/g, '{').replace(/%7D/g, '}');
}

/** A datetime interval for the API from two days (either may be empty). */
export function interval(from, to) {
  if (!from && !to) return '';
  const a = from ? `${from}T00:00:00Z` : '..';
  const b = to ? `${to}T23:59:59Z` : '..';
  return `${a}/${b}`;
}
