// Text people type (passwords, answers, names): characters that print nothing and can make
// two different strings look the same, or hide a value (NUL, BEL and the other control
// characters; bidirectional overrides and marks; zero-width spaces and the byte-order mark)
// are refused with words, not stored. The zero-width joiner (U+200D) stays: it joins emoji.
const INVISIBLE = /[\p{Cc}\u200B\u200C\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/u;

/** Whether the text holds a control or invisible formatting character. */
export function hasInvisibleCharacters(text: string): boolean {
  return INVISIBLE.test(text);
}
