// Message ids and their rendering. Flows and domain rules return a `Message` (an id and
// its parameters), never a sentence; the page that shows it calls `text()`. One catalogue
// per language; English (en.ts) is the guides' words and the fallback.
import { en } from './en.ts';

export type MessageId = keyof typeof en;
export type MessageParams = Record<string, string | number>;

export interface Message {
  id: MessageId;
  params?: MessageParams;
}

export function message(id: MessageId, params?: MessageParams): Message {
  return params ? { id, params } : { id };
}

/** The words of a message (or of a bare id). */
export function text(m: Message | MessageId): string {
  const { id, params } = typeof m === 'string' ? { id: m, params: undefined } : m;
  const entry = en[id] as string | ((p: MessageParams) => string) | undefined;
  if (entry === undefined) return id;
  return typeof entry === 'function' ? entry(params ?? {}) : entry;
}
