// Test helpers: Debian's Chromium driven by playwright-core, screenshots,
// and pixel comparisons (PNG decoding is done by the browser itself).
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches Chromium with a fresh user-data directory. */
export async function launch() {
  const profile = mkdtempSync(path.join(tmpdir(), 'tuilerie-viewer-test-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1400, height: 900 },
  });
  const decoder = await context.newPage();
  return {
    context,
    decoder,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Opens the viewer at `url`, recording console errors and page errors
 * (network failures of `ignoreOrigin`, the unreachable basemap, are expected).
 */
export async function openViewer(context, url, ignoreOrigin, errors) {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const where = (m.location() && m.location().url) || '';
    if (ignoreOrigin && where.startsWith(ignoreOrigin)) return;
    errors.push(`console: ${m.text()} (${where})`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.tuilerie && window.tuilerie.ready);
  await page.evaluate(() => window.tuilerie.ready);
  return page;
}

/** Waits until every map has loaded its tiles, twice over a short pause. */
export async function settle(page) {
  for (let i = 0; i < 2; i++) {
    await page.evaluate(() => window.tuilerie.idle());
    await page.waitForTimeout(300);
  }
  await page.evaluate(() => window.tuilerie.idle());
}

/** A screenshot of the map area, saved as `dir/name.png`. */
export async function shoot(page, dir, name) {
  mkdirSync(dir, { recursive: true });
  const png = await page.locator('#maps').screenshot();
  writeFileSync(path.join(dir, `${name}.png`), png);
  return png;
}

/**
 * Mean absolute difference (0–255, over RGB) between two screenshots inside
 * `rect` ({x0, y0, x1, y1} in pixels), and the mean of each.
 */
export async function compare(decoder, a, b, rect) {
  return decoder.evaluate(
    async ({ a, b, rect }) => {
      const pixels = async (b64) => {
        const img = new Image();
        img.src = `data:image/png;base64,${b64}`;
        await img.decode();
        const c = document.createElement('canvas');
        c.width = img.width;
        c.height = img.height;
        const ctx = c.getContext('2d');
        ctx.drawImage(img, 0, 0);
        return ctx.getImageData(0, 0, img.width, img.height);
      };
      const [pa, pb] = await Promise.all([pixels(a), pixels(b)]);
      let diff = 0;
      let n = 0;
      for (let y = Math.round(rect.y0); y < Math.round(rect.y1); y++) {
        for (let x = Math.round(rect.x0); x < Math.round(rect.x1); x++) {
          const i = (y * pa.width + x) * 4;
          for (let k = 0; k < 3; k++) diff += Math.abs(pa.data[i + k] - pb.data[i + k]);
          n += 3;
        }
      }
      return n ? diff / n : 0;
    },
    { a: a.toString('base64'), b: b.toString('base64'), rect },
  );
}
