/** Password hashing with argon2id (@node-rs/argon2: native, off the event loop). */
import { hash, verify } from '@node-rs/argon2';
import { z } from 'zod';

// OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
// algorithm 2 = Argon2id (the package's const enum cannot be imported under verbatimModuleSyntax).
const OPTIONS = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/** 8..256 characters: long enough to matter, bounded so hashing cannot be abused for CPU exhaustion. */
export const PasswordSchema = z.string().min(8, 'must be at least 8 characters').max(256, 'must be at most 256 characters');

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

let dummyHash: Promise<string> | undefined;

/**
 * Verifies a password. With no stored hash (unknown account, or a user without a password) it still spends
 * the time of one verification, so response timing does not reveal which accounts exist.
 */
export async function verifyPassword(stored: string | null | undefined, password: string): Promise<boolean> {
  if (!stored) {
    dummyHash ??= hashPassword('switchyard-timing-equalizer');
    await verify(await dummyHash, password).catch(() => false);
    return false;
  }
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}
