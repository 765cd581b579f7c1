// Object-detection boxes: `bndbox` labels (`@modelarts:feature` [[xmin, ymin], [xmax, ymax]] in
// pixels of the image) shown over the image.

import { h } from './dom.js';

export const SHAPE = '@modelarts:shape';
export const FEATURE = '@modelarts:feature';

export const isBox = (lb) => lb?.property?.[SHAPE] === 'bndbox';

/** The image with its boxes (read-only for now). */
export function boxEditor({ url, name }) {
  const element = h('div.box-stage', h('img.sample-image', { src: url, alt: name }));
  return { element, selected: () => null, select() {}, relabelSelected() {}, deleteSelected() {}, setBoxes() {} };
}
