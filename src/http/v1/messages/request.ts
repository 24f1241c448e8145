/**
 * Anthropic Messages request (inbound) -> OpenAI Chat Completions request (the pivot format). Pure: no I/O.
 * Content the pivot cannot express (server tools, file-id sources, ...) is a 400, never a silent drop. Thinking
 * blocks in the history, and Anthropic-only hints (`thinking`, `top_k`, `cache_control`), reach only upstreams
 * that understand them (see InboundOptions): no other upstream could verify a thinking block's signature.
 */
import { createHash } from 'node:crypto';
import type { ChatMessage, ChatRequest, ContentPart, ThinkingBlock, ToolDefinition } from '../../../providers/types.ts';
import { badRequest } from '../../../errors.ts';
import type { AnthropicMessage, AnthropicTool, ContentBlock, CountTokensRequest, MessagesRequest } from './schema.ts';

type Json = Record<string, unknown>;
type Effort = 'minimal' | 'low' | 'medium' | 'high';

export interface InboundOptions {
  /**
   * Keep the fields only Anthropic-format upstreams understand (`thinking`, `top_k`, `cache_control`). The
   * OpenAI wire format forwards unknown fields verbatim and OpenAI rejects them, so the route sets this only
   * when no candidate deployment speaks it.
   */
  anthropicExtras?: boolean;
  /**
   * False when a candidate model is known not to reason (the catalog says so): thinking then stays off
   * rather than making the upstream refuse `reasoning_effort`. Defaults to true.
   */
  reasoning?: boolean;
}

const invalid = (message: string, param: string | null = null) => badRequest(message, 'invalid_request', param);
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A thinking budget as an OpenAI `reasoning_effort`. The cut points sit between the budgets the outbound
 * Anthropic adapter uses per effort (1024 / 4096 / 16384), so a budget survives the round trip.
 */
export function effortForBudget(budget: number): Effort {
  if (budget < 2048) return 'low';
  if (budget < 8192) return 'medium';
  return 'high';
}

const EFFORTS: Record<string, Effort> = { minimal: 'minimal', low: 'low', medium: 'medium', high: 'high', xhigh: 'high', max: 'high' };

function reasoningEffort(body: CountTokensRequest): Effort | undefined {
  const named = body.output_config?.effort;
  if (typeof named === 'string' && EFFORTS[named]) return EFFORTS[named];
  const t = body.thinking;
  if (t?.type === 'enabled') return effortForBudget(t.budget_tokens ?? 1024);
  return undefined;
}

class Converter {
  constructor(private readonly extras: boolean) {}

  /** Copies a block's cache_control onto the part built from it (Anthropic upstreams only). */
  private cache<T extends Json>(target: T, source: Json): T {
    if (this.extras && isObject(source.cache_control)) (target as Json).cache_control = source.cache_control;
    return target;
  }

  system(system: CountTokensRequest['system']): ChatMessage | undefined {
    if (system == null) return undefined;
    if (typeof system === 'string') return system ? { role: 'system', content: system } : undefined;
    const parts = system.filter((b) => b.text).map((b) => this.cache<ContentPart>({ type: 'text', text: b.text }, b));
    if (!parts.length) return undefined;
    return { role: 'system', content: this.collapse(parts) };
  }

  /** One text part without cache_control reads better (and works everywhere) as a plain string. */
  private collapse(parts: ContentPart[]): string | ContentPart[] {
    if (parts.length === 1 && parts[0].type === 'text' && !('cache_control' in parts[0])) return (parts[0] as { text: string }).text;
    return parts;
  }

  private image(block: Json, param: string): ContentPart {
    const source = isObject(block.source) ? block.source : {};
    let url: string;
    if (source.type === 'base64' && typeof source.media_type === 'string' && typeof source.data === 'string') {
      url = `data:${source.media_type};base64,${source.data}`;
    } else if (source.type === 'url' && typeof source.url === 'string') {
      url = source.url;
    } else {
      throw invalid(`Image source type '${String(source.type)}' is not supported by this gateway; send base64 data or a URL`, `${param}.source`);
    }
    return this.cache<ContentPart>({ type: 'image_url', image_url: { url } }, block);
  }

  /** Documents: inline PDFs become OpenAI `file` parts; plain-text documents become text. */
  private document(block: Json, param: string): ContentPart {
    const source = isObject(block.source) ? block.source : {};
    const title = typeof block.title === 'string' && block.title ? block.title : undefined;
    if (source.type === 'base64' && source.media_type === 'application/pdf' && typeof source.data === 'string') {
      const file: Json = { file_data: `data:application/pdf;base64,${source.data}` };
      if (title) file.filename = title;
      return this.cache<ContentPart>({ type: 'file', file }, block);
    }
    if (source.type === 'text' && typeof source.data === 'string') {
      return this.cache<ContentPart>({ type: 'text', text: title ? `${title}\n\n${source.data}` : source.data }, block);
    }
    throw invalid(`Document source type '${String(source.type)}' is not supported by this gateway; send a base64 PDF or text`, `${param}.source`);
  }

  /** User content: tool results become `tool` messages (first, as OpenAI requires), the rest one user message. */
  user(msg: AnthropicMessage, param: string, out: ChatMessage[]): void {
    if (typeof msg.content === 'string') {
      out.push({ role: 'user', content: msg.content });
      return;
    }
    const parts: ContentPart[] = [];
    const toolMessages: ChatMessage[] = [];
    msg.content.forEach((block, i) => {
      const p = `${param}.content[${i}]`;
      switch (block.type) {
        case 'text':
          parts.push(this.cache<ContentPart>({ type: 'text', text: block.text }, block));
          return;
        case 'image':
          parts.push(this.image(block, p));
          return;
        case 'document':
          parts.push(this.document(block, p));
          return;
        case 'tool_result':
          toolMessages.push(this.toolResult(block, p, parts));
          return;
        default:
          throw invalid(`Content block type '${block.type}' is not allowed in a user message`, `${p}.type`);
      }
    });
    out.push(...toolMessages);
    if (parts.length) out.push({ role: 'user', content: this.collapse(parts) });
    else if (!toolMessages.length) out.push({ role: 'user', content: '' });
  }

  /**
   * A tool_result block as a `tool` message. OpenAI tool messages carry text only, so images (and documents)
   * in a result travel in the user message that follows, with a line saying which call they belong to.
   */
  private toolResult(block: Extract<ContentBlock, { type: 'tool_result' }>, param: string, userParts: ContentPart[]): ChatMessage {
    const c = block.content;
    // OpenAI has no error flag on tool results: the text says it.
    const prefix = block.is_error ? 'Error: ' : '';
    const message = (content: string | ContentPart[]) => this.cache<ChatMessage>({ role: 'tool', tool_call_id: block.tool_use_id, content }, block);
    if (!Array.isArray(c)) return message(prefix ? `${prefix}${c ?? ''}`.trimEnd() : (c ?? ''));
    const parts: ContentPart[] = [];
    const texts: string[] = [];
    const media: ContentPart[] = [];
    c.forEach((b, i) => {
      const part = b.type === 'text' ? ({ type: 'text', text: b.text } as ContentPart) : b.type === 'image' ? this.image(b, `${param}.content[${i}]`) : this.document(b, `${param}.content[${i}]`);
      parts.push(part);
      if (b.type === 'text') texts.push(b.text);
      else media.push(part);
    });
    if (media.length && this.extras) {
      // Anthropic upstreams take images in tool results: keep them in place (the outbound adapter does).
      return message(prefix ? [{ type: 'text', text: prefix.trim() }, ...parts] : parts);
    }
    // OpenAI tool messages carry text only: attachments travel in the user message that follows.
    if (media.length) userParts.push({ type: 'text', text: `(Attachments of the result of tool call ${block.tool_use_id}:)` }, ...media);
    const text = texts.join('\n');
    return message(prefix ? `${prefix}${text}`.trimEnd() : text);
  }

  /** Assistant content: text joined, tool_use blocks as tool_calls, signed thinking as `thinking_blocks` (Anthropic upstreams only). */
  assistant(msg: AnthropicMessage, param: string, out: ChatMessage[]): void {
    if (typeof msg.content === 'string') {
      out.push({ role: 'assistant', content: msg.content });
      return;
    }
    const texts: string[] = [];
    const calls: NonNullable<ChatMessage['tool_calls']> = [];
    const thinking: ThinkingBlock[] = [];
    let cacheSource: Json | undefined;
    msg.content.forEach((block, i) => {
      const p = `${param}.content[${i}]`;
      switch (block.type) {
        case 'text':
          texts.push(block.text);
          if (isObject(block.cache_control)) cacheSource = block;
          return;
        case 'tool_use': {
          const input = block.input ?? {};
          if (!isObject(input)) throw invalid('tool_use input must be an object', `${p}.input`);
          calls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(input) } });
          return;
        }
        case 'thinking':
          // Unsigned thinking (a history from elsewhere) cannot be verified by Anthropic either: dropped.
          if (this.extras && block.signature) thinking.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
          return;
        case 'redacted_thinking':
          if (this.extras && block.data) thinking.push({ type: 'redacted_thinking', data: block.data });
          return;
        default:
          throw invalid(`Content block type '${block.type}' is not allowed in an assistant message`, `${p}.type`);
      }
    });
    const text = texts.join('');
    const m: ChatMessage = { role: 'assistant', content: text || (calls.length ? null : '') };
    if (calls.length) m.tool_calls = calls;
    if (thinking.length) m.thinking_blocks = thinking;
    // Message-level cache_control (LiteLLM convention, which the outbound Anthropic adapter reads).
    if (cacheSource) this.cache(m, cacheSource);
    out.push(m);
  }

  tool(t: AnthropicTool, param: string): ToolDefinition {
    if (t.type != null && t.type !== 'custom') {
      throw invalid(`Tool type '${t.type}' (an Anthropic server tool) is not supported by this gateway; declare client tools with input_schema`, `${param}.type`);
    }
    const fn: ToolDefinition['function'] = { name: t.name, parameters: t.input_schema ?? { type: 'object', properties: {} } };
    if (t.description) fn.description = t.description;
    if (typeof t.strict === 'boolean') fn.strict = t.strict;
    return this.cache<ToolDefinition>({ type: 'function', function: fn }, t);
  }
}

function toolChoice(choice: CountTokensRequest['tool_choice']): Pick<ChatRequest, 'tool_choice' | 'parallel_tool_calls'> {
  if (!choice) return {};
  const out: Pick<ChatRequest, 'tool_choice' | 'parallel_tool_calls'> = {};
  switch (choice.type) {
    case 'auto':
      out.tool_choice = 'auto';
      break;
    case 'any':
      out.tool_choice = 'required';
      break;
    case 'tool':
      out.tool_choice = { type: 'function', function: { name: choice.name } };
      break;
    case 'none':
      out.tool_choice = 'none';
      break;
  }
  if ('disable_parallel_tool_use' in choice && choice.disable_parallel_tool_use === true && choice.type !== 'none') out.parallel_tool_calls = false;
  return out;
}

/** Shared by /v1/messages and /v1/messages/count_tokens: everything but the sampling parameters. */
function convert(body: CountTokensRequest, opts: InboundOptions): ChatRequest {
  const extras = opts.anthropicExtras === true;
  const c = new Converter(extras);
  const messages: ChatMessage[] = [];
  const system = c.system(body.system);
  if (system) messages.push(system);
  body.messages.forEach((m, i) => {
    const param = `messages[${i}]`;
    if (m.role === 'user') c.user(m, param, messages);
    else if (m.role === 'assistant') c.assistant(m, param, messages);
    else {
      const s = c.system(typeof m.content === 'string' ? m.content : (m.content.filter((b) => b.type === 'text') as Extract<ContentBlock, { type: 'text' }>[]));
      if (s) messages.push(s);
    }
  });
  if (!messages.length) throw invalid('messages: at least one message is required', 'messages');

  const req: ChatRequest = { model: body.model, messages };
  const tools = (body.tools ?? []).map((t, i) => c.tool(t, `tools[${i}]`));
  // OpenAI refuses tool_choice and parallel_tool_calls without tools.
  if (tools.length) Object.assign(req, { tools }, toolChoice(body.tool_choice));
  if (opts.reasoning !== false) {
    const effort = reasoningEffort(body);
    if (effort) req.reasoning_effort = effort;
    if (extras && body.thinking) (req as Json).thinking = body.thinking;
  }
  const format = body.output_config?.format;
  if (format?.type === 'json_schema') {
    req.response_format = { type: 'json_schema', json_schema: { name: 'output', schema: format.schema, strict: true } };
  }
  if (body.models) req.models = body.models;
  if (body.provider) req.provider = body.provider;
  return req;
}

/**
 * metadata.user_id as OpenAI's `user`, which OpenAI caps at 64 characters; longer ids (Claude Code sends
 * ~150) become their SHA-256, still one stable id per end user. Anthropic upstreams get the id as sent.
 */
export function endUserId(id: string): string {
  return id.length <= 64 ? id : createHash('sha256').update(id).digest('hex');
}

/** `POST /v1/messages` body -> the pivot request. */
export function fromAnthropicRequest(body: MessagesRequest, opts: InboundOptions = {}): ChatRequest {
  if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1) {
    throw invalid('max_tokens: a positive integer is required', 'max_tokens');
  }
  const req = convert(body, opts);
  req.max_tokens = body.max_tokens;
  if (body.temperature != null) req.temperature = body.temperature;
  if (body.top_p != null) req.top_p = body.top_p;
  if (body.top_k != null && opts.anthropicExtras) (req as Json).top_k = body.top_k;
  const stops = (body.stop_sequences ?? []).filter((s) => s.length > 0);
  if (stops.length) req.stop = stops;
  if (body.stream === true) req.stream = true;
  const user = body.metadata?.user_id;
  if (typeof user === 'string' && user) req.user = opts.anthropicExtras ? user : endUserId(user);
  return req;
}

/** `POST /v1/messages/count_tokens` body -> the pivot request whose prompt is counted. */
export function fromAnthropicCountTokensRequest(body: CountTokensRequest, opts: InboundOptions = {}): ChatRequest {
  return convert(body, opts);
}
