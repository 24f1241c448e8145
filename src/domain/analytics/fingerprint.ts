/**
 * Error fingerprints: messages that differ only in ids, numbers or quoted values group together, so
 * "/errors" shows patterns ("model <v> not found") with counts instead of a thousand unique strings.
 */
import { createHash } from 'node:crypto';

const RULES: [RegExp, string][] = [
  // Quoted values first: they may contain anything, including what the later rules would rewrite.
  [/"(?:[^"\\]|\\.)*"/g, '"<v>"'],
  [/'(?:[^'\\]|\\.)*'/g, "'<v>'"],
  [/`[^`]*`/g, '`<v>`'],
  [/\bhttps?:\/\/\S+/gi, '<url>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>'],
  // Prefixed ids (req_abc123, chatcmpl-9x8..., sk-...) and long hex/base64-ish tokens with a digit.
  [/\b[a-z]+[_-](?=[a-z0-9_-]*\d)[a-z0-9_-]{6,}\b/gi, '<id>'],
  [/\b(?=[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{12,}\b/gi, '<id>'],
  // Numbers, also with a unit glued on ("2.5s", "30000ms"), but not digits inside words ("gpt4").
  [/(?<![A-Za-z0-9_<])\d+(?:\.\d+)?/g, '<n>'],
  [/\s+/g, ' '],
];

/** The message with variable parts replaced by placeholders (bounded length). */
export function normalizeErrorMessage(message: string): string {
  let s = message.slice(0, 1000);
  for (const [re, to] of RULES) s = s.replace(re, to);
  return s.trim().slice(0, 300);
}

export interface ErrorPattern {
  fingerprint: string;
  pattern: string;
}

export function errorFingerprint(type: string, code: string, message: string | null | undefined): ErrorPattern {
  const pattern = message ? normalizeErrorMessage(message) : '';
  const fingerprint = createHash('sha256').update(`${type}\u0000${code}\u0000${pattern}`).digest('hex').slice(0, 16);
  return { fingerprint, pattern };
}
