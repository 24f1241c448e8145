/**
 * Key restrictions compiled once per key: IP allowlists (addresses and CIDRs, IPv4 and IPv6, via
 * node's BlockList), model allowlists (globs) and referrer allowlists (host globs).
 */
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

/** `*` matches any run of characters (including `/`), `?` one character; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

export function matchesAny(patterns: RegExp[], value: string): boolean {
  for (const p of patterns) if (p.test(value)) return true;
  return false;
}

/** `1.2.3.4`, `10.0.0.0/8`, `2001:db8::1`, `2001:db8::/32`. */
export function parseIpRule(rule: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address, prefixText, extra] = rule.trim().split('/');
  if (extra !== undefined) return undefined;
  const version = isIP(address);
  if (!version) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export const IpRuleSchema = z.string().max(64).refine((r) => parseIpRule(r) !== undefined, 'must be an IP address or CIDR such as 10.0.0.0/8');
export const ModelGlobSchema = z.string().min(1).max(200).regex(/^[\w.:/*?@-]+$/, 'must be a model id or a glob such as openai/*');
export const ReferrerGlobSchema = z.string().min(1).max(253).regex(/^[\w.*?:-]+$/, 'must be a host name or a glob such as *.example.com');

export function compileIpAllowlist(rules: string[]): BlockList {
  const list = new BlockList();
  for (const rule of rules) {
    const r = parseIpRule(rule);
    if (r) list.addSubnet(r.address, r.prefix, r.family);
  }
  return list;
}

/** Normalizes the socket's address (IPv4-mapped IPv6 becomes IPv4) and checks it. */
export function ipAllowed(list: BlockList, ip: string): boolean {
  const plain = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const family = isIP(plain);
  if (!family) return false;
  return list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
}

/** The host of an Origin or Referer header value, if parseable. */
export function refererHost(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    return new URL(value).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}
