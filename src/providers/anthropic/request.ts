/**
 * OpenAI Chat Completions request -> Anthropic Messages request. Pure: no I/O. Anything Anthropic cannot
 * express (unparsable tool arguments, audio parts, ...) is a 400 UpstreamError, never a crash.
 */
import { thinkingBlocksOf, type ChatMessage, type ChatRequest, type ContentPart, type UpstreamRequest, type UpstreamTarget } from '../types.ts';
import { UpstreamError } from '../errors.ts';
import {
  ANTHROPIC_VERSION,
  type CacheControl,
  type DocumentBlock,
  type ImageBlock,
  type MessagesRequest,
  type RequestBlock,
  type RequestMessage,
  type TextBlock,
  type ThinkingConfig,
  type ToolChoice,
  type ToolResultBlock,
  type ToolSpec,
  type ToolUseBlock,
} from './wire.ts';

type Json = Record<string, unknown>;

export const DEFAULT_MAX_TOKENS = 4096;

/**
 * Thinking budgets for OpenAI's `reasoning_effort` (Anthropic's minimum budget is 1024). `none` and `minimal`
 * mean no thinking; `xhigh` gets the largest budget.
 */
export const THINKING_BUDGETS: Record<string, number> = { low: 1024, medium: 4096, high: 16384, xhigh: 32768 };

const JSON_OBJECT_INSTRUCTION = 'Respond with a single valid JSON object only, with no text before or after it.';

const invalid = (message: string, param: string | null = null) =>
  new UpstreamError(400, 'invalid_request_error', message, 'invalid_request', false, undefined, undefined, param);

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The forced tool that carries a `json_schema` answer, when the request asks for one. */
export interface StructuredOutputTool {
  name: string;
  description?: string;
  schema: Record<string, unknown>;
}

export function structuredOutputTool(req: ChatRequest): StructuredOutputTool | undefined {
  const rf = req.response_format;
  if (!rf || rf.type !== 'json_schema' || !('json_schema' in rf)) return undefined;
  const js = rf.json_schema as { name: string; description?: string; schema?: Record<string, unknown> };
  // Anthropic tool names allow letters, digits, `_` and `-` only.
  const name = js.name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'json_response';
  return { name, description: js.description, schema: js.schema ?? { type: 'object' } };
}

function cacheControlOf(v: unknown): CacheControl | undefined {
  return isObject(v) && typeof v.type === 'string' ? (v as unknown as CacheControl) : undefined;
}

function withCache<T extends { cache_control?: CacheControl }>(block: T, source: unknown): T {
  const cc = cacheControlOf(isObject(source) ? source.cache_control : undefined);
  if (cc) block.cache_control = cc;
  return block;
}

/** `data:<media>;base64,<data>` -> its parts; undefined for anything else. */
function parseDataUrl(url: string): { mediaType: string; data: string } | undefined {
  const m = /^data:([^;,]+)((?:;[^;,]*)*?);base64,(.*)$/s.exec(url);
  if (!m) return undefined;
  const mediaType = m[1].toLowerCase();
  return { mediaType: mediaType === 'image/jpg' ? 'image/jpeg' : mediaType, data: m[3] };
}

function imageBlock(part: Json, param: string): ImageBlock {
  const iu = part.image_url;
  const url = typeof iu === 'string' ? iu : isObject(iu) && typeof iu.url === 'string' ? iu.url : '';
  if (/^https?:\/\//i.test(url)) return withCache<ImageBlock>({ type: 'image', source: { type: 'url', url } }, part);
  const parsed = parseDataUrl(url);
  if (!parsed) throw invalid('image_url must be an http(s) URL or a base64 data URL for this provider', param);
  return withCache<ImageBlock>({ type: 'image', source: { type: 'base64', media_type: parsed.mediaType, data: parsed.data } }, part);
}

/** OpenAI `file` parts: only inline PDFs have an Anthropic equivalent (a document block). */
function documentBlock(part: Json, param: string): DocumentBlock {
  const file = isObject(part.file) ? part.file : {};
  const parsed = typeof file.file_data === 'string' ? parseDataUrl(file.file_data) : undefined;
  if (!parsed || parsed.mediaType !== 'application/pdf') {
    throw invalid('Only inline PDF files (base64 data URLs) are supported for this provider', param);
  }
  const block: DocumentBlock = { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: parsed.data } };
  if (typeof file.filename === 'string' && file.filename) block.title = file.filename;
  return withCache(block, part);
}

type Allowed = 'text' | 'media';

function partToBlock(part: ContentPart, allowed: Allowed, param: string): TextBlock | ImageBlock | DocumentBlock | undefined {
  const p = part as Json;
  if (p.type === 'text') {
    const text = typeof p.text === 'string' ? p.text : '';
    // Anthropic rejects empty text blocks.
    return text ? withCache<TextBlock>({ type: 'text', text }, p) : undefined;
  }
  if (p.type === 'refusal' && typeof p.refusal === 'string') return p.refusal ? { type: 'text', text: p.refusal } : undefined;
  if (allowed === 'media' && p.type === 'image_url') return imageBlock(p, param);
  if (allowed === 'media' && p.type === 'file') return documentBlock(p, param);
  throw invalid(`Content part type '${String(p.type)}' is not supported here for this provider`, param);
}

function contentBlocks(msg: ChatMessage, allowed: Allowed, param: string): (TextBlock | ImageBlock | DocumentBlock)[] {
  const c = msg.content;
  let blocks: (TextBlock | ImageBlock | DocumentBlock)[];
  if (typeof c === 'string') blocks = c ? [{ type: 'text', text: c }] : [];
  else if (Array.isArray(c)) {
    blocks = [];
    c.forEach((part, i) => {
      const b = partToBlock(part, allowed, `${param}.content[${i}]`);
      if (b) blocks.push(b);
    });
  } else blocks = [];
  // A message-level cache_control (LiteLLM convention) marks the message's last block.
  const last = blocks[blocks.length - 1];
  if (last && !last.cache_control) withCache(last, msg);
  return blocks;
}

function toolUseBlocks(msg: ChatMessage, param: string): ToolUseBlock[] {
  return (msg.tool_calls ?? []).map((call, i) => {
    const raw = call.function.arguments.trim();
    let input: unknown;
    try {
      input = raw === '' ? {} : JSON.parse(raw);
    } catch {
      throw invalid(`Tool call arguments are not valid JSON (tool call ${call.id})`, `${param}.tool_calls[${i}].function.arguments`);
    }
    if (!isObject(input)) throw invalid(`Tool call arguments must be a JSON object (tool call ${call.id})`, `${param}.tool_calls[${i}].function.arguments`);
    return { type: 'tool_use', id: call.id, name: call.function.name, input };
  });
}

function toolResultBlock(msg: ChatMessage, param: string): ToolResultBlock {
  if (!msg.tool_call_id) throw invalid('A tool message needs tool_call_id', `${param}.tool_call_id`);
  const blocks = contentBlocks(msg, 'media', param).filter((b): b is TextBlock | ImageBlock => b.type !== 'document');
  const block: ToolResultBlock = { type: 'tool_result', tool_use_id: msg.tool_call_id };
  if (!blocks.length) return block;
  const onlyText = blocks.every((b) => b.type === 'text' && !b.cache_control);
  block.content = onlyText ? blocks.map((b) => (b as TextBlock).text).join('') : blocks;
  return block;
}

interface Converted {
  system: TextBlock[];
  messages: RequestMessage[];
}

/** Hoists system/developer messages, converts the rest and merges consecutive same-role turns. */
function convertMessages(msgs: ChatMessage[]): Converted {
  const system: TextBlock[] = [];
  const messages: RequestMessage[] = [];
  const push = (role: 'user' | 'assistant', content: RequestBlock[]) => {
    if (!content.length) return; // Anthropic rejects empty turns
    const last = messages[messages.length - 1];
    if (last && last.role === role) last.content.push(...content);
    else messages.push({ role, content });
  };
  msgs.forEach((m, i) => {
    const param = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(...(contentBlocks(m, 'text', param) as TextBlock[]));
        return;
      case 'user':
        return push('user', contentBlocks(m, 'media', param));
      case 'assistant':
        // Earlier reasoning goes back first and unchanged, as Anthropic returned it (signatures included).
        return push('assistant', [...thinkingBlocksOf(m), ...contentBlocks(m, 'text', param), ...toolUseBlocks(m, param)]);
      case 'tool':
        return push('user', [toolResultBlock(m, param)]);
      default:
        throw invalid(`Message role '${m.role}' is not supported for this provider; use tool messages`, `${param}.role`);
    }
  });
  for (const m of messages) {
    // Tool results must open the user turn that answers the tool calls.
    if (m.role === 'user') m.content = [...m.content.filter((b) => b.type === 'tool_result'), ...m.content.filter((b) => b.type !== 'tool_result')];
  }
  trimFinalAssistant(messages);
  return { system, messages };
}

/**
 * With thinking on, Anthropic requires the assistant turn whose tool calls the conversation is answering to
 * open with its thinking block. A client that did not keep the blocks (any OpenAI client but LiteLLM's
 * convention, or a history from another model) cannot supply them: that request goes without thinking
 * instead of failing with a 400.
 */
function missingThinkingForToolLoop(messages: RequestMessage[]): boolean {
  const last = messages[messages.length - 1];
  if (last?.role !== 'user' || last.content[0]?.type !== 'tool_result') return false;
  const answered = messages[messages.length - 2];
  if (answered?.role !== 'assistant' || !answered.content.some((b) => b.type === 'tool_use')) return false;
  const first = answered.content[0]?.type;
  return first !== 'thinking' && first !== 'redacted_thinking';
}

/** A prefilled final assistant turn may not end with whitespace. */
function trimFinalAssistant(messages: RequestMessage[]): void {
  const last = messages[messages.length - 1];
  if (last?.role !== 'assistant') return;
  const tail = last.content[last.content.length - 1];
  if (tail?.type !== 'text') return;
  tail.text = tail.text.trimEnd();
  if (!tail.text) last.content.pop();
  if (!last.content.length) messages.pop();
}

function toolSpec(t: NonNullable<ChatRequest['tools']>[number]): ToolSpec {
  const params = t.function.parameters;
  const input_schema = isObject(params) ? (params.type ? params : { type: 'object', ...params }) : { type: 'object', properties: {} };
  const spec: ToolSpec = { name: t.function.name, input_schema };
  if (t.function.description) spec.description = t.function.description;
  return withCache(spec, t);
}

function toolChoice(choice: ChatRequest['tool_choice']): ToolChoice | undefined {
  if (choice === undefined) return undefined;
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'any' };
  if (choice === 'none') return { type: 'none' };
  return { type: 'tool', name: choice.function.name };
}

/** Thinking config: a client-sent Anthropic `thinking` wins; else `reasoning_effort` picks a budget. */
function thinkingConfig(req: ChatRequest): ThinkingConfig | undefined {
  const raw = (req as Json).thinking;
  if (isObject(raw) && typeof raw.type === 'string') return raw as ThinkingConfig;
  const budget = req.reasoning_effort ? THINKING_BUDGETS[req.reasoning_effort] : undefined;
  return budget ? { type: 'enabled', budget_tokens: budget } : undefined;
}

/**
 * Claude's max_tokens must exceed the thinking budget. OpenAI's limit counts reasoning too, so a limit at or
 * below the budget is kept as answer room on top of it. Shared with the Bedrock adapter.
 */
export function withThinkingBudget(maxTokens: number, budget: number | undefined): number {
  return budget !== undefined && maxTokens <= budget ? maxTokens + budget : maxTokens;
}

/** The `max_tokens` sent to Anthropic (see providers/max-tokens.ts, which admission uses to reserve credit). */
export function messagesMaxTokens(req: ChatRequest, thinking: ThinkingConfig | undefined = thinkingConfig(req)): number {
  const maxTokens = req.max_completion_tokens ?? req.max_tokens ?? DEFAULT_MAX_TOKENS;
  return withThinkingBudget(maxTokens, thinking?.type === 'enabled' && typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : undefined);
}

interface ToolsResult {
  tools?: ToolSpec[];
  tool_choice?: ToolChoice;
  /** System text to add (structured output when the tool cannot be forced). */
  instruction?: string;
}

function toolsAndChoice(req: ChatRequest, thinkingOn: boolean): ToolsResult {
  const tools = (req.tools ?? []).map(toolSpec);
  let choice = toolChoice(req.tool_choice);
  let instruction: string | undefined;
  const structured = structuredOutputTool(req);
  if (structured) {
    const callerTools = tools.length;
    tools.push({ name: structured.name, description: structured.description ?? 'Give the final answer by calling this tool; its input is the answer.', input_schema: structured.schema });
    // Alone, the answer tool is forced; next to the caller's tools, some tool call is forced (theirs or the answer).
    if (callerTools === 0 || choice?.type === 'none') choice = { type: 'tool', name: structured.name };
    else if (!choice || choice.type === 'auto') choice = { type: 'any' };
  }
  if (!tools.length) return {};
  if (thinkingOn && choice && (choice.type === 'any' || choice.type === 'tool')) {
    // Anthropic refuses forced tool use with thinking on: let the model choose, and say what we need.
    if (structured) instruction = `Give your final answer by calling the ${structured.name} tool.`;
    choice = { type: 'auto' };
  }
  if (req.parallel_tool_calls === false && choice?.type !== 'none') choice = { ...(choice ?? { type: 'auto' }), disable_parallel_tool_use: true } as ToolChoice;
  return { tools, tool_choice: choice, instruction };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** The Anthropic Messages body for an OpenAI request (also usable by wire formats that embed it). */
export function toMessagesBody(req: ChatRequest, model: string, stream: boolean): MessagesRequest {
  const { system, messages } = convertMessages(req.messages);
  let thinking = thinkingConfig(req);
  if (thinking && thinking.type !== 'disabled' && missingThinkingForToolLoop(messages)) thinking = undefined;
  const thinkingOn = !!thinking && thinking.type !== 'disabled';
  // (An explicit "disabled": undefined would let messagesMaxTokens read the request's thinking again.)
  const body: MessagesRequest = { model, max_tokens: messagesMaxTokens(req, thinking ?? { type: 'disabled' }), messages };
  const { tools, tool_choice, instruction } = toolsAndChoice(req, thinkingOn);
  if (req.response_format?.type === 'json_object') system.push({ type: 'text', text: JSON_OBJECT_INSTRUCTION });
  if (instruction) system.push({ type: 'text', text: instruction });
  if (system.length) body.system = system;
  if (tools) body.tools = tools;
  if (tool_choice) body.tool_choice = tool_choice;
  if (thinking) body.thinking = thinking;

  // Thinking allows no temperature/top_k changes and top_p only in [0.95, 1]. Recent models (Sonnet 4.5
  // and later) refuse temperature and top_p together, which OpenAI clients often send: temperature wins.
  if (req.temperature != null && !thinkingOn) body.temperature = clamp(req.temperature, 0, 1);
  if (req.top_p != null && body.temperature === undefined && (!thinkingOn || req.top_p >= 0.95)) body.top_p = req.top_p;
  const topK = (req as Json).top_k;
  if (typeof topK === 'number' && !thinkingOn) body.top_k = topK;
  if (req.stop != null) {
    const stops = (typeof req.stop === 'string' ? [req.stop] : req.stop).filter((s) => s.length > 0);
    if (stops.length) body.stop_sequences = stops;
  }
  if (req.user) body.metadata = { user_id: req.user };
  if (stream) body.stream = true;
  return body;
}

function endpoint(baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  // Accept a base URL given with or without the `/v1` suffix.
  return base.endsWith('/v1') ? `${base}/messages` : `${base}/v1/messages`;
}

/** OpenAI parameters Anthropic cannot honour: a clear 400 naming the parameter instead of silently dropping it. */
export function assertSupported(req: ChatRequest): void {
  const refuse = (message: string, param: string) => new UpstreamError(400, 'invalid_request_error', message, 'unsupported_parameter', false, undefined, undefined, param);
  if (req.n != null && req.n > 1) throw refuse('n > 1 (several choices) is not supported by Anthropic; send n: 1 or separate requests.', 'n');
  if (req.logprobs === true) throw refuse('logprobs is not supported by Anthropic.', 'logprobs');
}

export function toUpstreamRequest(target: UpstreamTarget, req: ChatRequest, stream: boolean): UpstreamRequest {
  assertSupported(req);
  const p = target.provider;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'anthropic-version': ANTHROPIC_VERSION };
  if (p.apiKey) headers['x-api-key'] = p.apiKey;
  Object.assign(headers, p.headers);
  const body = toMessagesBody(req, target.model, stream);
  return { method: 'POST', url: endpoint(p.baseUrl), headers, body: JSON.stringify(body) };
}
