// The viewer in a real browser against a running demo server:
//   TUILERIE_URL=http://127.0.0.1:8080 node --test test/
// Screenshots go to SCREENSHOT_DIR (default ../target/viewer-screenshots).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launch, openViewer, settle, shoot, compare } from './browser.mjs';

const BASE = (process.env.TUILERIE_URL || '').replace(/\/$/, '');
const SHOTS =
  process.env.SCREENSHOT_DIR || path.join(path.dirname(fileURLToPath(import.meta.url)), '../../target/viewer-screenshots');
const COLLECTION = 'sentinel-2-l2a';
// Mont Ventoux, June and September 2023: true colour vs NDVI.
const JUNE = 'S2A_MSIL2A_20230624T103849_R108_T31TFJ';
const SEPTEMBER = 'S2A_MSIL2A_20230912T104438_R108_T31TFJ';

let browser;
let page;
let basemapOrigin = null;
const errors = [];
const shots = {};

// The demo's published API keys (README): a scientist whose organisation signed
// the licence charter (Pléiades, SPOT 6-7), and a member of one that did not.
const SCIENTIST = 'tui_demoscience0_DemoScientistKeyForTryingTuileri';
const VISITOR = 'tui_demovisitor0_DemoVisitorKeyOpenDataOnlyTuiler';
const RESTRICTED = 'pleiades';
const PLEIADES = 'PHR_20230807T083435_MONT-VENTOUX';

async function api(pathname, body, key) {
  const headers = body ? { 'content-type': 'application/json' } : {};
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${BASE}${pathname}`, body ? { method: 'POST', headers, body: JSON.stringify(body) } : { headers });
  assert.ok(res.ok, `${pathname}: ${res.status}`);
  return res.json();
}

/** The WebMercatorQuad tile at zoom `z` holding a point. */
function tileOf(lon, lat, z) {
  const n = 2 ** z;
  const x = Math.floor(((lon + 180) / 360) * n);
  const r = (lat * Math.PI) / 180;
  const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
  return { z, x, y };
}

/** A screenshot of the whole page (header and panels included). */
async function shootPage(p, name) {
  mkdirSync(SHOTS, { recursive: true });
  const png = await p.screenshot();
  writeFileSync(path.join(SHOTS, `${name}.png`), png);
  return png;
}

/** The collection ids offered by the search panel. */
const offered = (p) => p.locator('#s-collection option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));

/** Sets a range input as a user would (input, then change). */
async function slide(locator, value) {
  await locator.evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

/** The pixel rectangle of the maps element covered by a bbox, shrunk a little. */
async function footprintRect(bbox, p = page) {
  return p.evaluate(([w, s, e, n]) => {
    const map = window.tuilerie.mapA;
    const a = map.project([w, n]);
    const b = map.project([e, s]);
    const el = document.getElementById('maps');
    const inset = 12;
    return {
      x0: Math.max(0, a.x) + inset,
      y0: Math.max(0, a.y) + inset,
      x1: Math.min(el.clientWidth, b.x) - inset,
      y1: Math.min(el.clientHeight, b.y) - inset,
    };
  }, bbox);
}

before(async () => {
  assert.ok(BASE, 'set TUILERIE_URL to a running demo server');
  const config = await api('/viewer/config.json');
  if (config.basemap) basemapOrigin = new URL(config.basemap.url.replace(/[{}]/g, '')).origin;
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

test('a browser asking / is sent to the viewer, which loads without errors', async () => {
  page = await openViewer(browser.context, `${BASE}/`, basemapOrigin, errors);
  assert.match(new URL(page.url()).pathname, /\/viewer$/);
  const collections = await api('/collections');
  const options = await page.locator('#s-collection option').count();
  assert.equal(options, collections.collections.length + 1);
  await page.locator('#result-count').filter({ hasText: 'items' }).waitFor();
  await settle(page);
  shots.start = await shoot(page, SHOTS, '01-start');
  assert.deepEqual(errors, []);
});

test('a search returns the demo items, with footprints and previews', async () => {
  await page.selectOption('#s-collection', COLLECTION);
  await page.locator('#collection-card h2').waitFor();
  // Filters from the queryables: a cloud cover slider for optical imagery.
  await page.locator('#s-filters input#filter-eo-cloud-cover').waitFor();
  await page.locator('#s-time').waitFor();
  await page.fill('#s-from', '2023-06-01');
  await page.fill('#s-to', '2023-09-30');
  await page.evaluate(() => window.tuilerie.mapA.jumpTo({ center: [5.279, 44.174], zoom: 10 }));
  await page.click('#s-view');
  const expected = await api('/search', {
    collections: [COLLECTION],
    datetime: '2023-06-01T00:00:00Z/2023-09-30T23:59:59Z',
    bbox: await page.evaluate(() => window.tuilerie.state.search.bbox),
    limit: 50,
  });
  assert.ok(expected.features.length > 0);
  await page.locator('#result-count').filter({ hasText: `of ${expected.numberMatched} items` }).waitFor();
  const ids = await page.locator('#results .result').evaluateAll((lis) => lis.map((li) => li.dataset.id));
  assert.deepEqual(ids, expected.features.map((f) => f.id));
  assert.ok(ids.includes(JUNE) && ids.includes(SEPTEMBER));
  const footprints = await page.evaluate(() => window.tuilerie.mapA.querySourceFeatures('footprints').length);
  assert.ok(footprints > 0, 'footprints drawn');
  // Hovering a result highlights its footprint.
  await page.locator(`#results .result[data-id="${JUNE}"]`).hover();
  const hot = await page.evaluate(() => window.tuilerie.hovered);
  assert.equal(typeof hot, 'number');
  // Free text.
  await page.fill('#s-q', 'no-such-word-anywhere');
  await page.click('#s-submit');
  await page.locator('#result-count').filter({ hasText: 'No item matches' }).waitFor();
  await page.fill('#s-q', '');
  // Draw a box around the middle of the map (the Mont Ventoux).
  await page.click('#s-draw');
  const map = await page.locator('#map-a').boundingBox();
  const [cx, cy] = [map.x + map.width / 2, map.y + map.height / 2];
  await page.mouse.move(cx - 40, cy - 40);
  await page.mouse.down();
  await page.mouse.move(cx + 40, cy + 40, { steps: 4 });
  await page.mouse.up();
  const [w, s, e, n] = await page.evaluate(() => window.tuilerie.state.search.bbox);
  assert.ok(w < 5.279 && e > 5.279 && s < 44.174 && n > 44.174, `drawn box ${[w, s, e, n]}`);
  assert.equal(await page.getAttribute('#s-draw', 'aria-pressed'), 'false');
  await page.locator(`#results .result[data-id="${JUNE}"]`).waitFor();
  // The time slider steps through the collection's dates: one day's items.
  const dates = await page.evaluate(() => window.tuilerie.search.dates);
  assert.ok(dates.length > 10 && dates.includes('2023-06-24'));
  await slide(page.locator('#s-time'), dates.indexOf('2023-06-24'));
  assert.equal(await page.inputValue('#s-from'), '2023-06-24');
  await page.locator('#result-count').filter({ hasText: /^1 of 1 items$/ }).waitFor();
  assert.deepEqual(await page.locator('#results .result').evaluateAll((l) => l.map((li) => li.dataset.id)), [JUNE]);
  await page.fill('#s-from', '2023-06-01');
  await page.fill('#s-to', '2023-09-30');
  await page.click('#s-submit');
  await page.locator(`#results .result[data-id="${SEPTEMBER}"]`).waitFor();
  await settle(page);
  shots.search = await shoot(page, SHOTS, '02-search');
  // Item details.
  await page.locator(`#results .result[data-id="${JUNE}"] button.title`).click();
  await page.locator('#pane-item .props').waitFor();
  assert.ok(await page.locator('#pane-item details.raw pre').textContent().then((t) => t.includes(JUNE)));
  await page.click('#tab-search');
});

test('two layers compared with swipe show one product on each side of the divider', async () => {
  const item = await api(`/collections/${COLLECTION}/items/${JUNE}`);
  await page.locator(`#results .result[data-id="${JUNE}"] button:has-text("Add layer")`).click();
  await page.click('#tab-search');
  await page.locator(`#results .result[data-id="${SEPTEMBER}"] button:has-text("Add layer")`).click();
  assert.equal(await page.locator('#layer-list .layer').count(), 2);
  await page.evaluate(([w, s, e, n]) => {
    window.tuilerie.mapA.fitBounds([[w, s], [e, n]], { padding: 0, duration: 0 });
    window.tuilerie.mapA.setZoom(window.tuilerie.mapA.getZoom() + 0.6);
  }, item.bbox);
  const uids = await page.evaluate(() => window.tuilerie.state.layers.map((l) => l.uid));
  const [june, september] = uids;
  // The September layer in another of the collection's render presets
  // (the demo's seasons look alike in true colour at the top of the Ventoux).
  await page.locator(`#layer-${september}-render option[value=ndvi]`).waitFor({ state: 'attached' });
  await page.selectOption(`#layer-${september}-render`, 'ndvi');
  assert.equal(await page.evaluate(() => window.tuilerie.state.layers[1].render), 'ndvi');
  // Copy buttons: the XYZ template with the preset, the WMS capabilities.
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  await page.click(`#layer-${september}-copy-xyz`);
  await page.locator('#toast').filter({ hasText: 'Copied XYZ' }).waitFor();
  const xyz = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(xyz, `${BASE}/collections/${COLLECTION}/items/${SEPTEMBER}/tiles/WebMercatorQuad/{z}/{x}/{y}.png?render=ndvi`);
  await page.click(`#layer-${september}-copy-wms`);
  await page.locator('#toast').filter({ hasText: 'Copied WMS' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${BASE}/wms?SERVICE=WMS&REQUEST=GetCapabilities`);
  // (The message must be gone before the screenshots.)
  await page.waitForFunction(() => !document.querySelector('#toast').classList.contains('show'));
  await page.waitForTimeout(400);
  // References: each layer alone.
  await page.uncheck(`#layer-${september}-visible`);
  await settle(page);
  const refJune = await shoot(page, SHOTS, '03-june-alone');
  const mapHeight = (await page.locator('#maps').boundingBox()).height;
  await page.check(`#layer-${september}-visible`);
  await page.uncheck(`#layer-${june}-visible`);
  await settle(page);
  const refSeptember = await shoot(page, SHOTS, '04-september-alone');
  await page.check(`#layer-${june}-visible`);
  await settle(page);
  shots.both = await shoot(page, SHOTS, '05-both');

  await page.check('input[name=compare][value=swipe]');
  await page.locator('#divider').waitFor();
  await settle(page);
  // The compare controls must not change the map's size (pixels would shift).
  assert.equal((await page.locator('#maps').boundingBox()).height, mapHeight);
  const swipe = await shoot(page, SHOTS, '06-swipe');
  const r = await footprintRect(item.bbox);
  const mid = (await page.locator('#maps').boundingBox()).width / 2;
  const left = { ...r, x1: Math.min(r.x1, mid - 8) };
  const right = { ...r, x0: Math.max(r.x0, mid + 8) };
  assert.ok(left.x1 - left.x0 > 100 && right.x1 - right.x0 > 100, `the item covers both sides: ${JSON.stringify(r)}`);
  const d = {
    leftJune: await compare(browser.decoder, swipe, refJune, left),
    leftSeptember: await compare(browser.decoder, swipe, refSeptember, left),
    rightJune: await compare(browser.decoder, swipe, refJune, right),
    rightSeptember: await compare(browser.decoder, swipe, refSeptember, right),
    products: await compare(browser.decoder, refJune, refSeptember, r),
  };
  console.log('swipe pixel differences', d);
  assert.ok(d.products > 10, `the two layers look different (${d.products})`);
  assert.ok(d.leftJune < 4 && d.leftJune < d.leftSeptember / 3, `left of the divider is June: ${JSON.stringify(d)}`);
  assert.ok(d.rightSeptember < 4 && d.rightSeptember < d.rightJune / 3, `right of the divider is September: ${JSON.stringify(d)}`);

  // Dragging the divider to the right shows June further right.
  const box = await page.locator('#divider').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + 150, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  const split = await page.evaluate(() => window.tuilerie.state.compare.split);
  assert.ok(split > 0.55, `divider dragged (${split})`);
  // And the keyboard moves it too.
  await page.focus('#divider');
  await page.keyboard.press('ArrowLeft');
  assert.ok((await page.evaluate(() => window.tuilerie.state.compare.split)) < split);
  await settle(page);
  await shoot(page, SHOTS, '07-swipe-dragged');

  await page.check('input[name=compare][value=side]');
  await settle(page);
  await shoot(page, SHOTS, '08-side-by-side');
  const widths = await page.evaluate(() => [...document.querySelectorAll('#maps .map')].map((m) => m.clientWidth));
  assert.equal(widths.length, 2);
  assert.ok(Math.abs(widths[0] - widths[1]) < 4, `two maps side by side: ${widths}`);
  await page.check('input[name=compare][value=none]');
  await settle(page);
  assert.deepEqual(errors, []);
});

test('changing the opacity changes the rendered pixels', async () => {
  const item = await api(`/collections/${COLLECTION}/items/${JUNE}`);
  const [june, september] = await page.evaluate(() => window.tuilerie.state.layers.map((l) => l.uid));
  await page.uncheck(`#layer-${september}-visible`);
  await settle(page);
  const juneOnly = await shoot(page, SHOTS, '09-june-only');
  await page.check(`#layer-${september}-visible`);
  await settle(page);
  const opaque = await shoot(page, SHOTS, '10-september-opaque');
  await slide(page.locator(`#layer-${september}-opacity`), 30);
  assert.equal(await page.evaluate(() => window.tuilerie.state.layers[1].opacity), 0.3);
  await settle(page);
  const faded = await shoot(page, SHOTS, '11-september-30-percent');
  const r = await footprintRect(item.bbox);
  const changed = await compare(browser.decoder, opaque, faded, r);
  const toJune = await compare(browser.decoder, faded, juneOnly, r);
  const toSeptember = await compare(browser.decoder, faded, opaque, r);
  console.log('opacity pixel differences', { changed, toJune, toSeptember });
  assert.ok(changed > 2, `opacity changed the pixels (${changed})`);
  assert.ok(toJune < toSeptember, 'at 30 % the June layer below shows through most');
  assert.deepEqual(errors, []);
});

test('the URL restores the same view in a fresh page', async () => {
  await page.check('input[name=compare][value=swipe]');
  await settle(page);
  await page.waitForTimeout(400); // the URL is written after a short debounce
  const url = page.url();
  const before = await page.evaluate(() => {
    const s = window.tuilerie.state;
    return {
      view: s.view,
      layers: s.layers.map(({ kind, collection, item, render, opacity, visible, from, to }) => ({ kind, collection, item, render, opacity, visible, from, to })),
      mode: s.compare.mode,
      split: s.compare.split,
      search: s.search,
    };
  });
  const shot = await shoot(page, SHOTS, '12-before-reload');
  const fresh = await openViewer(browser.context, url, basemapOrigin, errors);
  await fresh.waitForTimeout(300);
  await settle(fresh);
  const after = await fresh.evaluate(() => {
    const s = window.tuilerie.state;
    return {
      view: s.view,
      layers: s.layers.map(({ kind, collection, item, render, opacity, visible, from, to }) => ({ kind, collection, item, render, opacity, visible, from, to })),
      mode: s.compare.mode,
      split: s.compare.split,
      search: s.search,
    };
  });
  assert.deepEqual(after.layers, before.layers);
  assert.equal(after.mode, 'swipe');
  assert.ok(Math.abs(after.split - before.split) < 0.01);
  assert.ok(Math.abs(after.view.zoom - before.view.zoom) < 0.01);
  assert.ok(Math.abs(after.view.lon - before.view.lon) < 1e-4 && Math.abs(after.view.lat - before.view.lat) < 1e-4);
  assert.equal(after.search.collection, before.search.collection);
  const restored = await shoot(fresh, SHOTS, '13-restored');
  const box = await fresh.locator('#maps').boundingBox();
  const whole = { x0: 60, y0: 60, x1: box.width - 60, y1: box.height - 60 };
  const d = await compare(browser.decoder, shot, restored, whole);
  console.log('restored view pixel difference', d);
  assert.ok(d < 2, `the restored page looks the same (${d})`);
  await fresh.close();
  assert.deepEqual(errors, []);
});

test('signing in with an API key shows the licensed collections; signing out hides them', async () => {
  const authErrors = [];
  // Every request that carries a key: it must go to this server only (not the basemap).
  const keyedRequests = [];
  browser.context.on('request', (r) => {
    if (r.headers().authorization || r.url().includes('api_key=')) keyedRequests.push(r.url());
  });
  const p = await openViewer(browser.context, `${BASE}/viewer`, basemapOrigin, authErrors);
  await p.locator('#result-count').filter({ hasText: 'items' }).waitFor();
  // Anonymous: open data only.
  const anonymous = await offered(p);
  assert.deepEqual(anonymous, (await api('/collections')).collections.map((c) => c.id));
  assert.ok(!anonymous.includes(RESTRICTED));
  assert.ok(!(await p.locator('#collection-card').textContent()).includes('Pléiades'));
  assert.equal((await p.locator('#account-toggle').textContent()).trim(), 'Sign in');

  // A bad key: the server's reason, and the page stays anonymous.
  await p.click('#account-toggle');
  assert.equal(await p.getAttribute('#account-toggle', 'aria-expanded'), 'true');
  assert.equal(await p.getAttribute('#api-key', 'type'), 'password');
  assert.equal(await p.locator('label[for=api-key]').textContent(), 'API key');
  await p.fill('#api-key', `${SCIENTIST.slice(0, -2)}XX`);
  await p.click('#signin-submit');
  await p.locator('#signin-error').filter({ hasText: 'invalid credentials' }).waitFor();
  assert.match(await p.locator('#signin-error').textContent(), /Sign-in refused: invalid credentials: unknown API key/);
  assert.equal(await p.getAttribute('#api-key', 'aria-invalid'), 'true');
  await shootPage(p, '14-sign-in-refused');
  assert.equal(await p.evaluate(() => sessionStorage.length + localStorage.length), 0);
  assert.equal((await p.locator('#account-toggle').textContent()).trim(), 'Sign in');
  assert.deepEqual(await offered(p), anonymous);

  // The scientist's key, typed and sent with the keyboard.
  await p.fill('#api-key', SCIENTIST);
  await p.press('#api-key', 'Enter');
  await p.locator('#account-info').waitFor();
  assert.equal(await p.locator('#account-name').textContent(), 'demo-scientist');
  assert.equal(await p.locator('#account-org').textContent(), 'Demo research laboratory');
  assert.equal(await p.locator('#account-roles').textContent(), 'scientific');
  await p.locator(`#account-quotas li[data-collection=${RESTRICTED}]`).filter({ hasText: 'Pléiades' }).waitFor();
  assert.match(await p.locator(`#account-quotas li[data-collection=${RESTRICTED}]`).textContent(), /km² used of 4,500 km² in \d{4}, [\d,.]+ km² left/);
  assert.equal(await p.locator('#account-note').count(), 0);
  assert.match(await p.locator('#account-toggle').textContent(), /Signed in: demo-scientist/);
  // Kept for this tab only, never in localStorage.
  assert.equal(await p.evaluate(() => sessionStorage.getItem('tuilerie.apiKey')), SCIENTIST);
  assert.equal(await p.evaluate(() => localStorage.length), 0);
  await p.locator(`#s-collection option[value=${RESTRICTED}]`).waitFor({ state: 'attached' });
  const signedIn = await offered(p);
  assert.deepEqual(signedIn, (await api('/collections', null, SCIENTIST)).collections.map((c) => c.id));
  assert.ok(signedIn.includes(RESTRICTED) && signedIn.includes('spot-6-7'));
  await shootPage(p, '15-signed-in');
  await p.keyboard.press('Escape');
  assert.ok(await p.locator('#account-panel').isHidden());
  assert.ok(await p.evaluate(() => document.activeElement.id === 'account-toggle'));

  // Search Pléiades, with previews fetched with the key.
  const item = await api(`/collections/${RESTRICTED}/items/${PLEIADES}`, null, SCIENTIST);
  await p.selectOption('#s-collection', RESTRICTED);
  await p.locator('#collection-card h2').filter({ hasText: 'Pléiades' }).waitFor();
  await p.evaluate(([w, s, e, n]) => window.tuilerie.mapA.fitBounds([[w, s], [e, n]], { padding: 0, duration: 0 }), item.bbox);
  await p.click('#s-view');
  const row = p.locator(`#results .result[data-id="${PLEIADES}"]`);
  await row.waitFor();
  await p.waitForFunction(
    (id) => {
      const img = document.querySelector(`#results .result[data-id="${id}"] img.thumb`);
      return img && img.complete && img.naturalWidth > 0;
    },
    PLEIADES,
  );

  // Add it as a layer: its tiles come (200, with the header), and draw pixels.
  const tiles = [];
  p.on('response', (r) => {
    if (r.url().includes(`/collections/${RESTRICTED}/items/`) && r.url().includes('/tiles/')) tiles.push(r);
  });
  await row.locator('button:has-text("Add layer")').click();
  await p.evaluate(([w, s, e, n]) => {
    window.tuilerie.mapA.fitBounds([[w, s], [e, n]], { padding: 0, duration: 0 });
    window.tuilerie.mapA.setZoom(window.tuilerie.mapA.getZoom() + 0.3);
  }, item.bbox);
  await settle(p);
  const uid = await p.evaluate(() => window.tuilerie.state.layers[0].uid);
  assert.ok(tiles.length > 0, 'Pléiades tiles requested');
  for (const r of tiles) {
    assert.equal(r.status(), 200, `${r.url()}: ${r.status()}`);
    assert.equal((await r.request().allHeaders()).authorization, `Bearer ${SCIENTIST}`);
    assert.ok((await r.body()).length > 100, `${r.url()}: a real PNG`);
  }
  assert.ok(!tiles.some((r) => r.url().includes('api_key')), 'the key goes in a header, not in tile URLs');
  assert.equal(await p.locator(`#layer-${uid}-error`).isHidden(), true);
  const shown = await shoot(p, SHOTS, '16-pleiades-layer');
  await p.uncheck(`#layer-${uid}-visible`);
  await settle(p);
  const hidden = await shoot(p, SHOTS, '17-pleiades-hidden');
  await p.check(`#layer-${uid}-visible`);
  await settle(p);
  const r = await footprintRect(item.bbox, p);
  const drawn = await compare(browser.decoder, shown, hidden, r);
  console.log('Pléiades layer pixel difference', drawn);
  assert.ok(drawn > 5, `the Pléiades layer draws pixels (${drawn})`);

  // The whole collection as a mosaic: MapLibre asks its TileJSON and tiles with the header.
  const mosaicTiles = [];
  const onMosaic = (res) => {
    if (res.url().startsWith(`${BASE}/collections/${RESTRICTED}/`) && !res.url().includes('/items/')) mosaicTiles.push(res);
  };
  p.on('response', onMosaic);
  await p.click('#tab-search');
  await p.locator('#collection-card button:has-text("Add as mosaic layer")').click();
  await settle(p);
  p.off('response', onMosaic);
  assert.ok(mosaicTiles.some((res) => res.url().includes('tilejson.json')), 'mosaic TileJSON requested');
  assert.ok(mosaicTiles.some((res) => res.url().includes('/tiles/')), 'mosaic tiles requested');
  for (const res of mosaicTiles) assert.equal(res.status(), 200, `${res.url()}: ${res.status()}`);
  const mosaicUid = await p.evaluate(() => window.tuilerie.state.layers[1].uid);
  assert.equal(await p.locator(`#layer-${mosaicUid}-error`).isHidden(), true);
  await p.click(`#layer-${mosaicUid}-remove`);

  // The key is never in the page's URL (nor in its history entry).
  await p.waitForTimeout(400);
  assert.ok(p.url().includes(`layer=i,${RESTRICTED},`), p.url());
  assert.ok(!p.url().includes(SCIENTIST) && !p.url().includes('api_key') && !p.url().includes('tui_'), p.url());

  // Copy buttons: signed in, the URLs carry api_key= (QGIS cannot send headers), and say so.
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  assert.match(await p.getAttribute(`#layer-${uid}-copy-xyz`, 'title'), /with your API key/);
  assert.match(await p.getAttribute(`#layer-${uid}-copy-xyz`, 'aria-label'), /with your API key/);
  await p.click(`#layer-${uid}-copy-xyz`);
  await p.locator('#toast').filter({ hasText: 'Copied XYZ template with your API key' }).waitFor();
  const xyz = await p.evaluate(() => navigator.clipboard.readText());
  assert.equal(xyz, `${BASE}/collections/${RESTRICTED}/items/${PLEIADES}/tiles/WebMercatorQuad/{z}/{x}/{y}.png?api_key=${SCIENTIST}`);
  const [lon, lat] = [(item.bbox[0] + item.bbox[2]) / 2, (item.bbox[1] + item.bbox[3]) / 2];
  const t = tileOf(lon, lat, 16);
  const tileUrl = xyz.replace('{z}', t.z).replace('{x}', t.x).replace('{y}', t.y);
  const keyed = await fetch(tileUrl);
  assert.equal(keyed.status, 200, tileUrl);
  assert.equal(keyed.headers.get('content-type'), 'image/png');
  assert.equal((await fetch(tileUrl.replace(/\?api_key=.*/, ''))).status, 404, 'without the key the tile does not exist');
  await p.click(`#layer-${uid}-copy-tilejson`);
  await p.locator('#toast').filter({ hasText: 'Copied TileJSON URL with your API key' }).waitFor();
  const tilejson = await p.evaluate(() => navigator.clipboard.readText());
  assert.ok(tilejson.endsWith(`?api_key=${SCIENTIST}`), tilejson);
  const tj = await fetch(tilejson).then((res) => res.json());
  assert.ok(tj.tiles[0].includes(`api_key=${SCIENTIST}`), 'the TileJSON forwards the key into its tile URLs');
  await p.click(`#layer-${uid}-copy-wms`);
  await p.locator('#toast').filter({ hasText: 'with your API key' }).waitFor();
  const wms = await p.evaluate(() => navigator.clipboard.readText());
  assert.equal(wms, `${BASE}/wms?SERVICE=WMS&REQUEST=GetCapabilities&api_key=${SCIENTIST}`);
  const caps = await fetch(wms).then((res) => res.text());
  assert.ok(caps.includes(`<Name>${RESTRICTED}</Name>`), 'the keyed WMS capabilities list Pléiades');

  // A reload of the tab stays signed in, and restores the Pléiades layer.
  await p.reload();
  await p.waitForFunction(() => window.tuilerie && window.tuilerie.ready);
  await p.evaluate(() => window.tuilerie.ready);
  assert.match(await p.locator('#account-toggle').textContent(), /Signed in: demo-scientist/);
  await settle(p);
  const reloadedUid = await p.evaluate(() => window.tuilerie.state.layers[0].uid);
  await p.click('#tab-layers');
  await p.locator(`#layer-${reloadedUid}-render`).waitFor();
  assert.equal(await p.locator(`#layer-${reloadedUid}-error`).isHidden(), true);
  await p.waitForTimeout(300);
  assert.ok(!p.url().includes('tui_') && !p.url().includes('api_key'), p.url());

  // Sign out: Pléiades is gone again, and the copy buttons are plain.
  await p.click('#account-toggle');
  await p.click('#signout');
  await p.locator('#signin-form').waitFor();
  assert.ok(await p.evaluate(() => document.activeElement.id === 'api-key'));
  assert.equal((await p.locator('#account-toggle').textContent()).trim(), 'Sign in');
  assert.equal(await p.evaluate(() => sessionStorage.length + localStorage.length), 0);
  await p.waitForFunction((id) => ![...document.querySelectorAll('#s-collection option')].some((o) => o.value === id), RESTRICTED);
  assert.deepEqual(await offered(p), anonymous);
  // (The layer stays in the list, saying why it cannot be shown.)
  await p.locator(`#layer-${reloadedUid}-error`).filter({ hasText: `collection '${RESTRICTED}' not found` }).waitFor();
  assert.doesNotMatch(await p.getAttribute(`#layer-${reloadedUid}-copy-xyz`, 'title'), /API key/);
  await p.keyboard.press('Escape');
  await shootPage(p, '18-signed-out');

  // A member of an organisation without a signed charter: told so, open data only.
  await p.click('#account-toggle');
  await p.fill('#api-key', VISITOR);
  await p.click('#signin-submit');
  await p.locator('#account-note').filter({ hasText: 'has not signed the licence charter' }).waitFor();
  assert.equal(await p.locator('#account-roles').textContent(), 'none (open data only)');
  await p.evaluate(() => window.tuilerie.ready);
  assert.deepEqual(await offered(p), anonymous);
  await shootPage(p, '19-charter-not-signed');
  await p.click('#signout');
  await p.locator('#signin-form').waitFor();

  // The only console errors: the refused key's 401 and the Pléiades documents
  // and tiles asked for while signed out (404: they do not exist then).
  assert.ok(keyedRequests.length > 0);
  const elsewhere = keyedRequests.filter((u) => new URL(u).origin !== new URL(BASE).origin);
  assert.deepEqual(elsewhere, [], 'the key is sent to this server only');
  const expected = (e) => (/status of 401/.test(e) && /\/me\)$/.test(e)) || (/status of 404/.test(e) && e.includes(`/collections/${RESTRICTED}`));
  const unexpected = authErrors.filter((e) => !expected(e));
  assert.deepEqual(unexpected, []);
  await p.close();
});
