/**
 * A capturing SMTP server on loopback (smtp-server), for tests of account mail. No TLS, no auth: point
 * `smtpUrl` at `smtp://127.0.0.1:<port>`. Set `failing = true` to make it reject every recipient.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface CapturedMail {
  to: string[];
  raw: string;
  /** The body, with quoted-printable soft breaks and escapes decoded. */
  text: string;
}

export interface SmtpCapture {
  port: number;
  url: string;
  messages: CapturedMail[];
  failing: boolean;
  /** Resolves with the first message to `to` received after `since` messages (polls). */
  waitFor(to: string, since?: number, timeoutMs?: number): Promise<CapturedMail>;
  stop(): Promise<void>;
}

function decodeBody(raw: string): string {
  const split = raw.indexOf('\r\n\r\n');
  const body = split >= 0 ? raw.slice(split + 4) : raw;
  if (!/content-transfer-encoding:\s*quoted-printable/i.test(raw.slice(0, split))) return body;
  return body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

export async function startSmtpCapture(): Promise<SmtpCapture> {
  const messages: CapturedMail[] = [];
  const capture = { failing: false } as SmtpCapture;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      if (capture.failing) {
        const err = new Error('mailbox unavailable') as Error & { responseCode?: number };
        err.responseCode = 550;
        return callback(err);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        messages.push({ to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()), raw, text: decodeBody(raw) });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  Object.assign(capture, {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    async waitFor(to: string, since = 0, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = messages.slice(since).find((m) => m.to.includes(to.toLowerCase()));
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no mail to ${to} within ${timeoutMs} ms (${messages.length} received)`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
  return capture;
}

/** The reset token in a password-reset mail: the 43-character base64url line. */
export function resetTokenFrom(mail: { text: string }): string {
  const m = /^([A-Za-z0-9_-]{43})\r?$/m.exec(mail.text);
  if (!m) throw new Error(`no reset token in mail: ${mail.text.slice(0, 500)}`);
  return m[1];
}
