/**
 * Outgoing account mail (password resets, invitations): SMTP through nodemailer when SMTP_URL is set;
 * otherwise the message is written to the log, clearly labelled, so a self-hosted operator can still act on it.
 */
import type { Transporter } from 'nodemailer';
import type { Logger } from '../../telemetry/logger.ts';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  readonly transport: 'smtp' | 'log';
  send(mail: Mail): Promise<void>;
}

export function createMailer(opts: { smtpUrl?: string; from: string; log: Logger }): Mailer {
  if (opts.smtpUrl) {
    const smtpUrl = opts.smtpUrl;
    // nodemailer loads with the first mail (about 15 MB of RSS that most running gateways never need).
    let transport: Promise<Transporter> | undefined;
    return {
      transport: 'smtp',
      async send(mail) {
        try {
          transport ??= import('nodemailer').then((m) => m.default.createTransport(smtpUrl));
          await (await transport).sendMail({ from: opts.from, to: mail.to, subject: mail.subject, text: mail.text });
        } catch (err) {
          opts.log.error({ err, to: mail.to, subject: mail.subject }, 'mail delivery failed');
          throw err;
        }
      },
    };
  }
  return {
    transport: 'log',
    async send(mail) {
      opts.log.warn({ mail: { to: mail.to, subject: mail.subject, text: mail.text } }, 'mail not sent (SMTP_URL is not configured): delivering to the log');
    },
  };
}
