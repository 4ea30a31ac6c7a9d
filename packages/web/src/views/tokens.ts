// Tokens: the sequence split into tokens, with their ids. Clicking one chooses it for every view; hovering one
// highlights it everywhere; the arrow keys move the choice. Long sequences scroll inside the strip.
import { el, linkHover, showToken } from '../dom.ts';
import type { InsideState, View } from '../state.ts';

export function tokenStrip(state: InsideState): HTMLElement {
  const strip = el('div', 'tokens');
  strip.setAttribute('role', 'listbox');
  strip.setAttribute('aria-label', 'tokens of the sequence: arrow keys choose one');
  const { tokenizer } = state.loaded;
  state.ids.forEach((id, i) => {
    const chip = el('span', `token${i === state.selected ? ' selected' : ''}${i >= state.promptLength ? ' generated' : ''}`);
    chip.append(el('span', 'text', showToken(tokenizer.tokenString(id))), el('span', 'id', String(id)));
    chip.title = `position ${i}, id ${id}${i >= state.promptLength ? ' (generated)' : ''}`;
    chip.setAttribute('role', 'option');
    chip.setAttribute('aria-selected', String(i === state.selected));
    chip.tabIndex = i === state.selected ? 0 : -1; // one tab stop; the arrow keys move within
    linkHover(chip, i);
    chip.addEventListener('click', () => state.select(i));
    strip.append(chip);
  });
  strip.addEventListener('keydown', (e) => {
    const step = { ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1, Home: -Infinity, End: Infinity }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    state.select(Math.max(0, Math.min(state.ids.length - 1, state.selected + step)));
  });
  // keep the chosen chip in sight when the strip scrolls (the strip is the chips' offsetParent), without moving the page
  requestAnimationFrame(() => {
    const chip = strip.querySelector<HTMLElement>('.token.selected');
    if (chip) strip.scrollTop = Math.max(0, chip.offsetTop - strip.clientHeight / 2);
  });
  return strip;
}

export const tokensView: View = {
  name: 'Tokens',
  intro:
    'The model never sees letters: the {token|tokenizer} cuts the text into pieces it learned from its training text, and each piece is a number, its id. ' +
    'Look for common words that are one token, rare words split in several, and spaces (␣) glued to the start of the next word.',
  render(root, state) {
    const cut = state.cutFrom ? ` The text has ${state.cutFrom} tokens but the model holds ${state.ids.length}: the views look at the first ${state.ids.length}.` : '';
    root.append(
      el('p', 'hint', `${state.ids.length} tokens (${state.promptLength} from the prompt). The small grey number is the id the model sees; green tokens were generated.${cut}`),
      tokenStrip(state),
      el('p', '', `chosen: position ${state.selected}, id ${state.ids[state.selected]}, bytes [${[...state.loaded.tokenizer.tokenBytes(state.ids[state.selected]!)].join(', ')}]`),
    );
  },
};
