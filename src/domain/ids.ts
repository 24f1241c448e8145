/** Identifiers and secrets: prefixed random ids, opaque tokens and their at-rest hashes. */
import { createHash, randomBytes } from 'node:crypto';

/** A prefixed, URL-safe random id such as `usr_3kq8...` (120 bits). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(15).toString('base64url')}`;
}

/** An opaque secret token (256 bits, base64url). */
export function newToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 hex: how opaque secrets (API keys, refresh and reset tokens) are stored. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
