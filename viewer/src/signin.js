// Signing in with an API key: the key is checked with `GET /me`, then kept
// for this browser tab (sessionStorage) and sent with every request to this
// server, so that the collections the user's licences cover (Pléiades, SPOT
// 6-7…) appear. Without a key the viewer shows open data only.
import { h, $, toast } from './dom.js';
import { apiKey, setApiKey } from './auth.js';

export class SignIn {
  /** `toggle`: the header button; `panel`: the drop-down it opens. */
  constructor(toggle, panel, app) {
    this.toggle = toggle;
    this.panel = panel;
    this.app = app;
    this.me = null;
    this.error = null;
    toggle.addEventListener('click', () => this.open(this.panel.hidden));
    panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        this.open(false);
        this.toggle.focus();
      }
    });
    this.render();
  }

  get signedIn() {
    return Boolean(this.me && apiKey());
  }

  /** Shows or hides the panel (focusing its first control). */
  open(show) {
    this.panel.hidden = !show;
    this.toggle.setAttribute('aria-expanded', String(show));
    if (show) {
      const first = this.panel.querySelector('input, button');
      if (first) first.focus();
    }
  }

  /** At start: checks the key remembered by this tab, if any. */
  async restore() {
    if (!apiKey()) return;
    try {
      this.me = await this.app.api.me();
      if (!this.me || !this.me.authenticated) throw new Error('this key is not valid');
    } catch (e) {
      setApiKey(null);
      this.me = null;
      if (e.status === 401 || e.status === 403 || !e.status) this.error = `Signed out: ${e.message}`;
      else this.error = `Could not check your API key: ${e.message}`;
      toast(this.error);
    }
    this.render();
  }

  async signIn(raw) {
    const key = raw.trim();
    this.error = null;
    if (!key) {
      this.showError('Paste your API key (tui_…) first.');
      return;
    }
    this.busy(true);
    let me;
    try {
      me = await this.app.api.me(key);
      if (!me || !me.authenticated) throw new Error('the server did not recognise this key');
    } catch (e) {
      this.busy(false);
      this.showError(e.status === 401 ? `Sign-in refused: ${e.message}` : `Could not sign in: ${e.message}`);
      return;
    }
    setApiKey(key);
    this.me = me;
    this.render();
    const signOut = this.panel.querySelector('#signout');
    if (signOut) signOut.focus();
    toast(`Signed in as ${me.name || me.user}`);
    await this.app.authChanged();
    this.render(); // collection titles for the quotas
  }

  async signOut() {
    setApiKey(null);
    this.me = null;
    this.error = null;
    this.render();
    const input = this.panel.querySelector('#api-key');
    if (input) input.focus();
    toast('Signed out: open data only');
    await this.app.authChanged();
  }

  busy(on) {
    for (const el of this.panel.querySelectorAll('button, input')) el.disabled = on;
  }

  showError(message) {
    this.error = message;
    const el = this.panel.querySelector('#signin-error');
    el.textContent = message;
    el.hidden = false;
    const input = this.panel.querySelector('#api-key');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    input.select();
  }

  render() {
    const me = this.signedIn ? this.me : null;
    this.toggle.textContent = me ? `Signed in: ${me.name || me.user}` : 'Sign in';
    this.toggle.title = me ? 'Your account, quotas and sign out' : 'Sign in with an API key to see the licensed collections';
    this.toggle.classList.toggle('signed-in', Boolean(me));
    const focused = this.panel.contains(document.activeElement) ? document.activeElement.id : null;
    this.panel.replaceChildren(me ? this.identity(me) : this.form());
    const again = focused && document.getElementById(focused);
    if (again) again.focus();
  }

  form() {
    const input = h('input', {
      type: 'password',
      id: 'api-key',
      name: 'api-key',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: 'tui_…',
      'aria-describedby': 'signin-help signin-error',
    });
    const error = h('p', { id: 'signin-error', class: 'error', role: 'alert', hidden: !this.error, text: this.error || '' });
    return h(
      'form',
      { id: 'signin-form', onsubmit: (e) => (e.preventDefault(), this.signIn(input.value)) },
      h('h2', { text: 'Sign in' }),
      h('label', { for: 'api-key', text: 'API key' }),
      input,
      h('p', {
        id: 'signin-help',
        class: 'hint',
        text: 'Without a key you see open data only. The key is sent to this server only, and forgotten when you close this tab.',
      }),
      error,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'signin-submit' }, 'Sign in')),
    );
  }

  identity(me) {
    const org = me.organisation;
    const titles = new Map((this.app.search ? this.app.search.collections : []).map((c) => [c.id, c.title || c.id]));
    const km2 = (x) => `${Number(x).toLocaleString('en', { maximumFractionDigits: 1 })} km²`;
    const quotas = (me.quotas || []).map((q) =>
      h(
        'li',
        { 'data-collection': q.collection },
        h('strong', { text: titles.get(q.collection) || q.collection }),
        ': ',
        q.quota_km2 === null || q.quota_km2 === undefined
          ? `${km2(q.used_km2)} used in ${q.year} (no quota)`
          : `${km2(q.used_km2)} used of ${km2(q.quota_km2)} in ${q.year}, ${km2(q.remaining_km2)} left`,
      ),
    );
    const roles = me.effective_roles && me.effective_roles.length ? me.effective_roles.join(', ') : 'none (open data only)';
    return h(
      'div',
      { id: 'account-info' },
      h('h2', { text: 'Signed in' }),
      h(
        'dl',
        { class: 'facts' },
        h('dt', { text: 'Name' }),
        h('dd', { id: 'account-name', text: me.name || me.user || '—' }),
        h('dt', { text: 'Organisation' }),
        h('dd', { id: 'account-org', text: org ? org.name || org.id : '—' }),
        h('dt', { text: 'Roles' }),
        h('dd', { id: 'account-roles', text: roles }),
      ),
      me.note && h('p', { id: 'account-note', class: 'warning', role: 'status', text: `Note: ${me.note}` }),
      quotas.length > 0 && h('h3', { text: 'Quotas' }),
      quotas.length > 0 && h('ul', { class: 'quotas', id: 'account-quotas' }, quotas),
      h(
        'p',
        { class: 'hint' },
        'Copied tile and WMS URLs now include your key (',
        h('code', { text: 'api_key=…' }),
        '): keep them private.',
      ),
      h('div', { class: 'actions' }, h('button', { type: 'button', id: 'signout', onclick: () => this.signOut() }, 'Sign out')),
    );
  }
}

/** Builds the header's control and its panel. */
export function signInControl(app) {
  return new SignIn($('#account-toggle'), $('#account-panel'), app);
}
