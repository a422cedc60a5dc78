import { launch, openViewer } from './browser.mjs';
const b = await launch();
const errors = [];
const p = await openViewer(b.context, 'http://127.0.0.1:18081/', 'https://tile.openstreetmap.org', errors);
console.log(await p.evaluate(() => [document.querySelectorAll('#s-collection option').length, document.querySelector('#result-count').textContent, typeof window.tuilerie.ready]));
await p.waitForTimeout(2000);
console.log(await p.evaluate(() => [document.querySelectorAll('#s-collection option').length, document.querySelector('#result-count').textContent]));
console.log(errors);
await b.close();
