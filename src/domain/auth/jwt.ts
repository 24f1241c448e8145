/**
 * Short-lived access tokens: HS256 JWTs (jose). They carry only the user id; role, tier and status are
 * read live from the user cache on every request, never trusted from the token.
 */
import { SignJWT, jwtVerify, errors } from 'jose';
import { unauthorized } from '../../errors.ts';

const ISSUER = 'switchyard';
const AUDIENCE = 'switchyard-api';

export class AccessTokens {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  sign(userId: string, sessionFamily: string): Promise<string> {
    // iat_ms: `iat` has whole seconds; revocation (sessions_valid_after) needs to order tokens within a second.
    return new SignJWT({ fam: sessionFamily, iat_ms: Date.now() })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }

  /** Returns the user id; throws 401 for anything invalid, expired or forged. */
  async verify(token: string): Promise<{ userId: string; family: string | undefined; issuedAt: number }> {
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string') throw unauthorized('Invalid access token.', 'invalid_token');
      return { userId: payload.sub, family: typeof payload.fam === 'string' ? payload.fam : undefined, issuedAt: typeof payload.iat_ms === 'number' ? payload.iat_ms : (payload.iat ?? 0) * 1000 };
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw unauthorized('The access token has expired; refresh it.', 'token_expired');
      if (err instanceof Error && err.name === 'AppError') throw err;
      throw unauthorized('Invalid access token.', 'invalid_token');
    }
  }
}

/** JWTs have three base64url segments; API keys never look like that. */
export const looksLikeJwt = (token: string) => token.split('.').length === 3 && token.startsWith('eyJ');
