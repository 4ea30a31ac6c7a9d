// Tokens: the sequence split into tokens, with their ids. Clicking one chooses it for every view.
import { el, showToken } from '../dom.ts';
import type { InsideState, View } from '../state.ts';

export function tokenStrip(state: InsideState): HTMLElement {
  const strip = el('div', 'tokens');
  const { tokenizer } = state.loaded;
  state.ids.forEach((id, i) => {
    const chip = el('span', `token${i === state.selected ? ' selected' : ''}${i >= state.promptLength ? ' generated' : ''}`);
    chip.append(el('span', 'text', showToken(tokenizer.tokenString(id))), el('span', 'id', String(id)));
    chip.title = `position ${i}, id ${id}${i >= state.promptLength ? ' (generated)' : ''}`;
    chip.dataset.index = String(i);
    chip.addEventListener('click', () => state.select(i));
    strip.append(chip);
  });
  return strip;
}

export const tokensView: View = {
  name: 'Tokens',
  render(root, state) {
    root.append(
      el('p', 'hint', `${state.ids.length} tokens (${state.promptLength} from the prompt). Grey ids are what the model sees; green tokens were generated.`),
      tokenStrip(state),
      el('p', '', `chosen: position ${state.selected}, id ${state.ids[state.selected]}, bytes [${[...state.loaded.tokenizer.tokenBytes(state.ids[state.selected]!)].join(', ')}]`),
    );
  },
};
