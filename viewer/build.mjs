// Bundles the viewer: index.html (a template: the server fills in `%BASE%`)
// and content-hashed files under assets/.
// Usage: node build.mjs [--dev] [--outdir DIR]
//   --dev     no minification, with source maps
//   --outdir  where to write (default: dist/); cargo's build.rs passes its OUT_DIR
import * as esbuild from 'esbuild';
import { mkdir, readdir, readFile, rm, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dev = process.argv.includes('--dev');
const flag = process.argv.indexOf('--outdir');
const dist = flag > 0 ? path.resolve(process.argv[flag + 1]) : path.join(here, 'dist');
const out = `${dist}.tmp`;

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

const result = await esbuild.build({
  entryPoints: [path.join(here, 'src/main.js')],
  bundle: true,
  format: 'esm',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  minify: !dev,
  sourcemap: dev ? 'linked' : false,
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

// The entry point's JS and CSS, by their hashed names.
const outputs = Object.entries(result.metafile.outputs);
const entry = outputs.find(([, o]) => o.entryPoint);
if (!entry) throw new Error('esbuild produced no entry point');
const js = path.basename(entry[0]);
const css = entry[1].cssBundle ? path.basename(entry[1].cssBundle) : null;

const template = await readFile(path.join(here, 'src/index.html'), 'utf8');
const html = template
  .replace('<!--STYLE-->', css ? `<link rel="stylesheet" href="assets/${css}">` : '')
  .replace('<!--SCRIPT-->', `<script type="module" src="assets/${js}"></script>`);
await writeFile(path.join(out, 'index.html'), html);
await writeFile(path.join(out, 'licenses.txt'), await licenses(Object.keys(result.metafile.inputs)));
await writeFile(path.join(out, '.stamp'), `${new Date().toISOString()}\n`);

await rm(dist, { recursive: true, force: true });
await rename(out, dist);

const sizes = outputs.map(([f, o]) => `${path.basename(f)} ${(o.bytes / 1024).toFixed(0)} KiB`);
console.log(`viewer built into ${path.relative(process.cwd(), dist) || dist}: ${sizes.join(', ')}`);

/** The licence texts of the npm packages that went into the bundle. */
async function licenses(inputs) {
  const packages = new Set();
  for (const input of inputs) {
    const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (m) packages.add(m[1]);
  }
  const texts = [];
  for (const name of [...packages].sort()) {
    const dir = path.join(here, 'node_modules', name);
    const files = (await readdir(dir)).filter((f) => /^(licen[cs]e|copying)/i.test(f));
    const { version, license } = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
    const body = files.length ? await readFile(path.join(dir, files[0]), 'utf8') : `License: ${license}`;
    texts.push(`${name} ${version}\n${'='.repeat(name.length + version.length + 1)}\n${body.trim()}\n`);
  }
  return `Third-party software bundled in the Tuilerie viewer\n\n${texts.join('\n')}`;
}
