// Tiny DOM helpers: build elements declaratively, announce messages.

/**
 * Creates an element. `attrs`: `class`, `text`, `on<event>` handlers, boolean
 * attributes (true/false), anything else set as an attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'value' || key === 'checked' || key === 'selected') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

let toastTimer = null;
/** Shows (and announces to screen readers) a short message. */
export function toast(message) {
  const el = $('#toast');
  el.textContent = message;
  el.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('show'), 2500);
}

/** Copies text to the clipboard (with a fallback outside secure contexts). */
export async function copy(text, what) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
    } else {
      const area = h('textarea', { value: text, 'aria-hidden': 'true', class: 'offscreen' });
      document.body.append(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    toast(`Copied ${what}`);
  } catch {
    toast(`Could not copy ${what}: ${text}`);
  }
}

/** A debounced version of `fn`. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** `2023-06-24T10:38:49Z` → `2023-06-24`. */
export const day = (datetime) => (datetime ? String(datetime).slice(0, 10) : '');
