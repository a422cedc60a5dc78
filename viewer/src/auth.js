// The API key of a signed-in user: kept in sessionStorage (gone when the tab
// closes), sent only to this server — as `Authorization: Bearer` on every
// request the page makes, and as `api_key=` only in the URLs copied for
// clients that cannot set headers (QGIS). Never in the page's URL.

const STORAGE = 'tuilerie.apiKey';

let key = null;
/** Origins (and API root) the key may be sent to. */
let ours = { origins: new Set(), root: null };

function read() {
  try {
    return sessionStorage.getItem(STORAGE);
  } catch {
    return null;
  }
}

/** Sets which URLs are this server's: the page's origin and the API root's. */
export function configure(apiRoot) {
  const origins = new Set([location.origin]);
  let root = null;
  try {
    root = new URL(apiRoot, location.href);
    origins.add(root.origin);
  } catch {
    root = null;
  }
  ours = { origins, root };
  key = read();
}

/** The current key, or null (anonymous). */
export const apiKey = () => key;

/** Remembers (or with null forgets) the key for this browser tab. */
export function setApiKey(value) {
  key = value || null;
  try {
    if (key) sessionStorage.setItem(STORAGE, key);
    else sessionStorage.removeItem(STORAGE);
  } catch {
    // Storage refused (private mode): the key lasts as long as the page.
  }
}

/** True when `url` is served by this Tuilerie (the key may go there). */
export function isOurs(url) {
  let u;
  try {
    u = new URL(url, location.href);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  return ours.origins.has(u.origin);
}

/** The headers that authenticate a request to `url` (none for other hosts). */
export function authHeaders(url, k = key) {
  return k && isOurs(url) ? { authorization: `Bearer ${k}` } : {};
}

/** `url` with `api_key=` added (signed in, this server's URL), else unchanged. */
export function withKey(url) {
  if (!key || !isOurs(url)) return url;
  const u = new URL(url, location.href);
  u.searchParams.set('api_key', key);
  // Keep the template braces of XYZ URLs readable.
  return u.toString().replace(/%7B/g, '{').replace(/%7D/g, '}');
}

/** MapLibre's `transformRequest`: the header for this server's tiles and TileJSON. */
export function transformRequest(url) {
  const headers = authHeaders(url);
  return headers.authorization ? { url, headers } : { url };
}

/**
 * Shows the image at `url` in `img`. Anonymous: a plain `src`. Signed in: the
 * image is fetched with the header (an `<img>` cannot send one) once it comes
 * near the screen, and shown from a blob URL.
 */
export function authImage(img, url) {
  if (!key || !isOurs(url)) {
    img.src = url;
    return;
  }
  const k = key;
  const load = async () => {
    try {
      const res = await fetch(url, { headers: authHeaders(url, k) });
      if (!res.ok) throw new Error(String(res.status));
      const blob = URL.createObjectURL(await res.blob());
      img.addEventListener('load', () => URL.revokeObjectURL(blob), { once: true });
      img.src = blob;
    } catch {
      img.dispatchEvent(new Event('error'));
    }
  };
  if (typeof IntersectionObserver === 'undefined') {
    load();
    return;
  }
  const observer = new IntersectionObserver(
    (entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        observer.disconnect();
        load();
      }
    },
    { rootMargin: '200px' },
  );
  observer.observe(img);
}
