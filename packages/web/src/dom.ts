// Small DOM helpers. Text from models and files goes in through textContent only, never as HTML.

export function $(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

export function input(id: string): HTMLInputElement {
  return $(id) as HTMLInputElement;
}

/** A new element with a class and text content. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A token as it reads on screen: spaces and newlines made visible. */
export function showToken(text: string): string {
  return text.replace(/ /g, '\u2423').replace(/\n/g, '\u21b5');
}

/** A colour from white (0) to deep blue (1), for heatmaps. */
export function heat(value: number): string {
  const v = Math.max(0, Math.min(1, value));
  const l = 100 - 62 * v;
  return `hsl(220 80% ${l}%)`;
}

/** Diverging colour: negative red, positive blue, scaled by `scale`. */
export function diverging(value: number, scale: number): string {
  const v = Math.max(-1, Math.min(1, scale > 0 ? value / scale : 0));
  return v >= 0 ? `hsl(220 80% ${100 - 55 * v}%)` : `hsl(5 80% ${100 + 55 * v}%)`;
}
