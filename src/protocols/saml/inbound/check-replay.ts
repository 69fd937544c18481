// Refuses a message ID this SP has already used: each ID is remembered (SET NX in the
// store) for as long as its IssueInstant would be accepted, so a captured request cannot
// be played again. Responses are matched to our own request IDs elsewhere.
import { createHash } from 'node:crypto';
import { keys } from '../../../store/index.ts';
import { established, refuse, type Check } from './message.ts';

export const checkReplay: Check = async (msg, ctx) => {
  const sp = established(msg, 'sp');
  const id = established(msg, 'id');
  const spTag = createHash('sha256').update(sp.entityId).digest('base64url').slice(0, 16);
  const first = await ctx.store.set(keys.samlSeenRequest(spTag, id), '1', { onlyIfAbsent: true, ttlMs: ctx.requestMaxAgeMs + 2 * ctx.clockSkewMs });
  if (!first) refuse(`request ID ${id} from ${sp.id} was already used`, 'SSPR 5133');
};
