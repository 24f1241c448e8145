/** Identifiers and secrets: prefixed random ids, opaque tokens and their at-rest hashes. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** A prefixed, URL-safe random id such as `usr_3kq8...` (120 bits). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(15).toString('base64url')}`;
}

/**
 * 32 hex digits that sort by creation time: 12 of milliseconds since the epoch, then 80 random bits (taken
 * from a UUID, whose generator is pooled). Ids written at request rate (request ids, charge ids) then land
 * on the newest pages of their btree indexes instead of random ones, so index writes stay in the buffer
 * cache however large the table grows.
 */
export function timeOrderedHex(): string {
  const u = randomUUID();
  return Date.now().toString(16).padStart(12, '0') + u.slice(0, 8) + u.slice(9, 13) + u.slice(24, 32);
}

/** An opaque secret token (256 bits, base64url). */
export function newToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 hex: how opaque secrets (API keys, refresh and reset tokens) are stored. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
