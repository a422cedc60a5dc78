// Drawing a search box on the map with the mouse (Esc cancels).
import { bboxPolygon } from './maps.js';

export class BoxDrawing {
  /** `onDone(bbox | null)` when the box is drawn or drawing is cancelled. */
  constructor(map, onDone) {
    this.map = map;
    this.onDone = onDone;
    this.active = false;
    this.from = null;
    this.down = (e) => this.onDown(e);
    this.move = (e) => this.onMove(e);
    this.up = (e) => this.onUp(e);
    this.key = (e) => {
      if (e.key === 'Escape') this.stop();
    };
  }

  start() {
    this.active = true;
    this.map.dragPan.disable();
    this.map.boxZoom.disable();
    this.map.getCanvas().style.cursor = 'crosshair';
    this.map.on('mousedown', this.down);
    window.addEventListener('keydown', this.key);
  }

  stop(bbox = null) {
    if (!this.active) return;
    this.active = false;
    this.map.dragPan.enable();
    this.map.boxZoom.enable();
    this.map.getCanvas().style.cursor = '';
    this.map.off('mousedown', this.down);
    this.map.off('mousemove', this.move);
    this.map.off('mouseup', this.up);
    window.removeEventListener('keydown', this.key);
    this.onDone(bbox);
  }

  onDown(e) {
    e.preventDefault();
    this.from = e.lngLat;
    this.map.on('mousemove', this.move);
    this.map.on('mouseup', this.up);
  }

  box(to) {
    const a = this.from;
    return [Math.min(a.lng, to.lng), Math.min(a.lat, to.lat), Math.max(a.lng, to.lng), Math.max(a.lat, to.lat)];
  }

  onMove(e) {
    const source = this.map.getSource('draw');
    if (source) source.setData(bboxPolygon(this.box(e.lngLat)));
  }

  onUp(e) {
    const bbox = this.box(e.lngLat);
    this.stop(bbox[0] < bbox[2] && bbox[1] < bbox[3] ? bbox : null);
  }
}
