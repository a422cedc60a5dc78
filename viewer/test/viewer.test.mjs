// The viewer in a real browser against a running demo server:
//   TUILERIE_URL=http://127.0.0.1:8080 node --test test/
// Screenshots go to SCREENSHOT_DIR (default ../target/viewer-screenshots).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
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

async function api(pathname, body) {
  const res = await fetch(`${BASE}${pathname}`, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {});
  assert.ok(res.ok, `${pathname}: ${res.status}`);
  return res.json();
}

/** Sets a range input as a user would (input, then change). */
async function slide(locator, value) {
  await locator.evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

/** The pixel rectangle of the maps element covered by a bbox, shrunk a little. */
async function footprintRect(bbox) {
  return page.evaluate(([w, s, e, n]) => {
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
