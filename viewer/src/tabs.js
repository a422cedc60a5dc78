// Accessible tabs (WAI-ARIA tabs pattern: arrow keys move between tabs).

export class Tabs {
  constructor(tablist) {
    this.tabs = [...tablist.querySelectorAll('[role=tab]')];
    for (const tab of this.tabs) {
      tab.addEventListener('click', () => this.select(tab.id));
      tab.addEventListener('keydown', (e) => {
        const i = this.tabs.indexOf(tab);
        const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: this.tabs.length - 1 }[e.key];
        if (next === undefined) return;
        const target = this.tabs[(next + this.tabs.length) % this.tabs.length];
        this.select(target.id);
        target.focus();
        e.preventDefault();
      });
    }
  }

  /** Shows the panel of tab `id` (`tab-search`, `tab-layers`, `tab-item`). */
  select(id) {
    for (const tab of this.tabs) {
      const on = tab.id === id;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      document.getElementById(tab.getAttribute('aria-controls')).hidden = !on;
    }
  }
}
