// Compare modes: `swipe` (the second map over the first, clipped at a
// draggable divider) and `side` (two maps side by side), both kept in sync.

export class CompareView {
  /**
   * `container` holds `mapA`'s and `mapB`'s elements and the divider.
   * `onSplit(split)` is called when the divider moves (0..1).
   */
  constructor(container, divider, onSplit) {
    this.container = container;
    this.divider = divider;
    this.onSplit = onSplit;
    this.mode = 'none';
    this.split = 0.5;
    this.maps = [];
    this.bindDivider();
    new ResizeObserver(() => this.layout()).observe(container);
  }

  bindDivider() {
    const d = this.divider;
    const move = (clientX) => {
      const rect = this.container.getBoundingClientRect();
      this.setSplit((clientX - rect.left) / rect.width, true);
    };
    d.addEventListener('pointerdown', (e) => {
      d.setPointerCapture(e.pointerId);
      d.classList.add('dragging');
      e.preventDefault();
    });
    d.addEventListener('pointermove', (e) => {
      if (d.hasPointerCapture(e.pointerId)) move(e.clientX);
    });
    const end = (e) => {
      if (d.hasPointerCapture(e.pointerId)) d.releasePointerCapture(e.pointerId);
      d.classList.remove('dragging');
    };
    d.addEventListener('pointerup', end);
    d.addEventListener('pointercancel', end);
    d.addEventListener('keydown', (e) => {
      const steps = { ArrowLeft: -0.02, ArrowRight: 0.02, PageDown: -0.1, PageUp: 0.1 };
      if (e.key in steps) this.setSplit(this.split + steps[e.key], true);
      else if (e.key === 'Home') this.setSplit(0, true);
      else if (e.key === 'End') this.setSplit(1, true);
      else return;
      e.preventDefault();
    });
  }

  setMaps(maps) {
    this.maps = maps;
  }

  setMode(mode, split = this.split) {
    this.mode = mode;
    this.split = split;
    this.container.classList.remove('mode-none', 'mode-swipe', 'mode-side');
    this.container.classList.add(`mode-${mode}`);
    this.divider.hidden = mode !== 'swipe';
    this.layout();
  }

  setSplit(split, fromUser = false) {
    this.split = Math.min(1, Math.max(0, split));
    this.layout();
    if (fromUser && this.onSplit) this.onSplit(this.split);
  }

  layout() {
    const [, b] = this.maps;
    const width = this.container.clientWidth;
    const x = Math.round(width * this.split);
    if (b) {
      b.getContainer().style.clipPath = this.mode === 'swipe' ? `inset(0 0 0 ${x}px)` : '';
    }
    this.divider.style.left = `${x}px`;
    this.divider.setAttribute('aria-valuenow', String(Math.round(this.split * 100)));
    this.divider.setAttribute('aria-valuetext', `${Math.round(this.split * 100)}% from the left`);
    for (const map of this.maps) if (map) map.resize();
  }
}
