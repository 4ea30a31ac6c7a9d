// The inside views, in tab order.
import type { View } from '../state.ts';
import { attentionView } from './attention.ts';
import { hiddenView } from './hidden.ts';
import { interventionsView } from './interventions.ts';
import { logitLensView } from './logit-lens.ts';
import { nextTokenView } from './next-token.ts';
import { profileView } from './profile.ts';
import { tokensView } from './tokens.ts';

export const insideViews: View[] = [tokensView, nextTokenView, attentionView, logitLensView, hiddenView, interventionsView, profileView];
