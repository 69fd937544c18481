import { randomBytes } from 'node:crypto';

/** An unguessable opaque identifier (128 or more bits, base64url). */
export function newId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}
