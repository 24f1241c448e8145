/**
 * Authentication for Bedrock requests: AWS SigV4 (service `bedrock`) when the provider has access keys,
 * else a Bedrock API key as a Bearer token. Computation only; nothing is sent.
 */
import type { ResolvedProvider, UpstreamRequest } from '../types.ts';

export const SIGNING_SERVICE = 'bedrock';
export const DEFAULT_REGION = 'us-east-1';

/** Signs `req` with SigV4: adds host, x-amz-date, x-amz-content-sha256, x-amz-security-token and authorization. */
export async function signRequest(req: UpstreamRequest, provider: ResolvedProvider, signingDate: Date = new Date()): Promise<UpstreamRequest> {
  // The AWS signer loads with the first signed request: a gateway without Bedrock never carries it.
  const [{ SignatureV4 }, { Sha256 }] = await Promise.all([import('@smithy/signature-v4'), import('@aws-crypto/sha256-js')]);
  const url = new URL(req.url);
  const signer = new SignatureV4({
    service: SIGNING_SERVICE,
    region: provider.region ?? DEFAULT_REGION,
    credentials: {
      accessKeyId: provider.accessKeyId ?? '',
      secretAccessKey: provider.secretAccessKey ?? '',
      ...(provider.sessionToken ? { sessionToken: provider.sessionToken } : {}),
    },
    sha256: Sha256,
  });
  const query: Record<string, string> = {};
  url.searchParams.forEach((v, k) => {
    query[k] = v;
  });
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      // The path as sent: the model id is already percent-encoded once; the signer encodes it again, as AWS expects.
      path: url.pathname,
      query,
      // `host` is signed, so it is sent explicitly (undici uses a given host header as is).
      headers: { ...req.headers, host: url.host },
      body: req.body,
    },
    { signingDate },
  );
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k] = String(v);
  return { ...req, headers };
}

/** Adds the provider's credentials to an unsigned request. */
export async function authorize(req: UpstreamRequest, provider: ResolvedProvider): Promise<UpstreamRequest> {
  if (provider.accessKeyId && provider.secretAccessKey) return signRequest(req, provider);
  if (provider.apiKey) return { ...req, headers: { ...req.headers, authorization: `Bearer ${provider.apiKey}` } };
  return req;
}
