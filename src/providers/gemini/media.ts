/**
 * OpenAI content parts -> Gemini parts: text, images (data URLs inline, remote URLs by reference), audio
 * and files given as data URLs.
 */
import type { ChatMessage } from '../types.ts';
import type { GeminiPart } from './wire.ts';
import { invalidRequest } from './errors.ts';

type Loose = Record<string, any>;

/**
 * Concatenated text of a message's content (system, assistant and tool messages); part types listed in
 * `ignore` are skipped, any other non-text part is refused.
 */
export function textOf(content: ChatMessage['content'], at: string, ignore: readonly string[] = []): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  return content
    .map((p, k) => {
      if (p.type === 'text') return String((p as Loose).text ?? '');
      if (ignore.includes(p.type)) return '';
      throw invalidRequest(`Content part of type ${p.type} is not allowed in this message`, `${at}.content[${k}]`);
    })
    .join('');
}

export function partsFromContent(content: ChatMessage['content'], at: string): GeminiPart[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  const parts: GeminiPart[] = [];
  content.forEach((p, k) => {
    const part = toPart(p as Loose, `${at}.content[${k}]`);
    if (part) parts.push(part);
  });
  return parts;
}

function toPart(p: Loose, at: string): GeminiPart | undefined {
  switch (p.type) {
    case 'text':
      return p.text ? { text: String(p.text) } : undefined;
    case 'image_url':
      return fromUrl(String(p.image_url?.url ?? ''), 'image/jpeg', `${at}.image_url.url`);
    case 'input_audio': {
      const data = p.input_audio?.data;
      const format = p.input_audio?.format;
      if (typeof data !== 'string' || typeof format !== 'string') throw invalidRequest('input_audio needs data and format', `${at}.input_audio`);
      return { inlineData: { mimeType: `audio/${format === 'mp3' ? 'mp3' : format}`, data } };
    }
    case 'file': {
      const data = p.file?.file_data;
      if (typeof data !== 'string') throw invalidRequest('Only files given inline as file_data are supported for Gemini', `${at}.file`);
      return fromUrl(data, guessMime(String(p.file?.filename ?? ''), 'application/pdf'), `${at}.file.file_data`);
    }
    default:
      throw invalidRequest(`Content part of type ${p.type} is not supported by Gemini`, at);
  }
}

/** A data URL becomes inline bytes; an http(s) or gs:// URL is passed by reference with a guessed type. */
function fromUrl(url: string, fallbackMime: string, at: string): GeminiPart {
  if (url.startsWith('data:')) return { inlineData: parseDataUrl(url, fallbackMime, at) };
  if (/^(https?|gs):\/\//i.test(url)) return { fileData: { mimeType: guessMime(url, fallbackMime), fileUri: url } };
  throw invalidRequest('Expected a data: URL or an http(s) URL', at);
}

/** `data:[<mime>][;params][;base64],<data>`; non-base64 payloads are percent-decoded and re-encoded. */
export function parseDataUrl(url: string, fallbackMime: string, at: string): { mimeType: string; data: string } {
  const comma = url.indexOf(',');
  if (comma === -1) throw invalidRequest('Malformed data URL', at);
  const meta = url.slice(5, comma).split(';');
  const mimeType = meta[0] || fallbackMime;
  const payload = url.slice(comma + 1);
  if (meta.slice(1).includes('base64')) return { mimeType, data: payload };
  let decoded: string;
  try {
    decoded = decodeURIComponent(payload);
  } catch {
    throw invalidRequest('Malformed data URL', at);
  }
  return { mimeType, data: Buffer.from(decoded, 'utf8').toString('base64') };
}

const MIME_BY_EXT: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
  txt: 'text/plain',
  mp3: 'audio/mp3',
  wav: 'audio/wav',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  aac: 'audio/aac',
  mp4: 'video/mp4',
  mov: 'video/mov',
  webm: 'video/webm',
};

/** Guesses a MIME type from the path's extension (query and fragment ignored). */
export function guessMime(url: string, fallback: string): string {
  const path = url.split(/[?#]/)[0];
  const dot = path.lastIndexOf('.');
  if (dot === -1 || dot < path.lastIndexOf('/')) return fallback;
  return MIME_BY_EXT[path.slice(dot + 1).toLowerCase()] ?? fallback;
}
