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

/** A sequential colour from near-white (0) to deep blue (1), for heatmaps of values that start at 0. */
export function heat(value: number): string {
  const v = Math.max(0, Math.min(1, value));
  return `hsl(${215 + 15 * v} ${60 + 20 * v}% ${97 - 72 * v}%)`;
}

/** Diverging colour: negative red, positive blue, white at 0; `v` in -1..1. */
export function diverging(v: number): string {
  const x = Math.max(-1, Math.min(1, v));
  return x >= 0 ? `hsl(220 80% ${100 - 60 * x}%)` : `hsl(5 80% ${100 + 60 * x}%)`;
}

/** Text colour that stays readable on heat(value). */
export function inkOn(value: number): string {
  return value > 0.55 ? '#fff' : '#111';
}

// ---- one token, every view: hovering a token anywhere highlights it wherever it is shown ----

let hovered: number | undefined;

/** Highlight token `index` (a position in the sequence) in the output text and every view; undefined clears. */
export function setHover(index: number | undefined): void {
  if (index === hovered) return;
  for (const node of document.querySelectorAll('.hover')) node.classList.remove('hover');
  hovered = index;
  if (index === undefined) return;
  for (const node of document.querySelectorAll(`[data-index="${index}"]`)) node.classList.add('hover');
}

/** Re-apply the highlight after a view redraws. */
export function refreshHover(): void {
  const index = hovered;
  hovered = undefined;
  setHover(index);
}

/** Hovering or focusing `node` highlights token `index` everywhere. */
export function linkHover(node: HTMLElement, index: number): void {
  node.dataset.index = String(index);
  node.addEventListener('mouseenter', () => setHover(index));
  node.addEventListener('mouseleave', () => setHover(undefined));
  node.addEventListener('focus', () => setHover(index));
  node.addEventListener('blur', () => setHover(undefined));
}
