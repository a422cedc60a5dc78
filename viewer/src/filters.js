// Filters built from a collection's queryables (JSON Schema): a "maximum"
// slider for bounded numbers (e.g. cloud cover), a choice for enumerations.
import { h } from './dom.js';

const SKIP = new Set(['id', 'collection', 'geometry', 'datetime', 'start_datetime', 'end_datetime', 'created', 'updated', 'title']);
// Shown first when present: what users of optical imagery filter on most.
const FIRST = ['eo:cloud_cover', 'platform', 'constellation', 'gsd'];

/** The properties worth a control: `[{name, title, kind: 'max'|'enum', ...}]`. */
export function filterSpecs(queryables) {
  const specs = [];
  for (const [name, schema] of Object.entries((queryables && queryables.properties) || {})) {
    if (SKIP.has(name) || !schema) continue;
    const title = schema.title || name;
    if (Array.isArray(schema.enum) && schema.enum.length > 1 && schema.enum.length <= 30) {
      specs.push({ name, title, kind: 'enum', values: schema.enum.filter((v) => v !== null) });
    } else if (
      (schema.type === 'number' || schema.type === 'integer') &&
      Number.isFinite(schema.minimum) &&
      Number.isFinite(schema.maximum)
    ) {
      specs.push({ name, title, kind: 'max', min: schema.minimum, max: schema.maximum, integer: schema.type === 'integer' });
    }
  }
  const rank = (s) => (FIRST.includes(s.name) ? FIRST.indexOf(s.name) : FIRST.length);
  return specs.sort((a, b) => rank(a) - rank(b));
}

/** CQL2 JSON for the chosen values (`{name: value}`), or null. */
export function cql2(specs, values) {
  const args = [];
  for (const spec of specs) {
    const raw = values[spec.name];
    if (raw === undefined || raw === '') continue;
    if (spec.kind === 'max') {
      const v = Number(raw);
      if (Number.isFinite(v) && v < spec.max) args.push({ op: '<=', args: [{ property: spec.name }, v] });
    } else {
      const v = spec.values.find((x) => String(x) === String(raw));
      if (v !== undefined) args.push({ op: '=', args: [{ property: spec.name }, v] });
    }
  }
  if (args.length === 0) return null;
  return args.length === 1 ? args[0] : { op: 'and', args };
}

/** The controls; `onChange(name, value)` ('' clears). */
export function filterControls(specs, values, onChange) {
  return specs.map((spec) => {
    const id = `filter-${spec.name.replace(/[^a-z0-9]/gi, '-')}`;
    if (spec.kind === 'max') {
      const current = values[spec.name] !== undefined ? Number(values[spec.name]) : spec.max;
      const step = spec.integer ? 1 : (spec.max - spec.min) / 100;
      const out = h('output', { for: id, text: label(spec, current) });
      const input = h('input', {
        type: 'range',
        id,
        min: spec.min,
        max: spec.max,
        step,
        value: current,
        oninput: (e) => (out.textContent = label(spec, Number(e.target.value))),
        onchange: (e) => {
          const v = Number(e.target.value);
          onChange(spec.name, v >= spec.max ? '' : String(v));
        },
      });
      return h('div', { class: 'filter' }, h('label', { for: id }, `${spec.title}: `, out), input);
    }
    const select = h(
      'select',
      { id, onchange: (e) => onChange(spec.name, e.target.value) },
      h('option', { value: '', text: 'Any' }),
      spec.values.map((v) => h('option', { value: String(v), text: String(v), selected: String(values[spec.name]) === String(v) })),
    );
    return h('div', { class: 'filter' }, h('label', { for: id, text: spec.title }), select);
  });
}

function label(spec, v) {
  return v >= spec.max ? 'any' : `≤ ${Number(v.toFixed(2))}`;
}
