/**
 * OpenAI chat request -> Gemini `generateContent` request: URL, headers, contents, tools, generation config.
 */
import type { ChatMessage, ChatRequest, UpstreamRequest, UpstreamTarget } from '../types.ts';
import type { GeminiContent, GeminiFunctionDeclaration, GeminiPart, GenerateContentRequest } from './wire.ts';
import { invalidRequest } from './errors.ts';
import { cleanJsonSchema, isEmptyObjectSchema } from './schema.ts';
import { partsFromContent, textOf } from './media.ts';

type Method = 'generateContent' | 'streamGenerateContent' | 'batchEmbedContents';
type Loose = Record<string, any>;

/** Sentinel Google documents for function calls whose thought signature was lost (history from elsewhere). */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

/** Accepts bare ids (`gemini-2.5-flash`) and resource names (`models/...`, `tunedModels/...`). */
export const modelName = (model: string): string => (model.includes('/') ? model : `models/${model}`);

export function endpoint(target: UpstreamTarget, method: Method): string {
  const base = target.provider.baseUrl.replace(/\/+$/, '');
  const path = modelName(target.model).split('/').map(encodeURIComponent).join('/');
  const url = `${base}/${path}:${method}`;
  return method === 'streamGenerateContent' ? `${url}?alt=sse` : url;
}

export function headers(target: UpstreamTarget): Record<string, string> {
  const p = target.provider;
  const h: Record<string, string> = { 'content-type': 'application/json', ...p.headers };
  if (p.apiKey) h['x-goog-api-key'] = p.apiKey;
  return h;
}

export function toUpstreamRequest(target: UpstreamTarget, req: ChatRequest, stream: boolean): UpstreamRequest {
  const body = toGenerateContentRequest(req);
  return {
    method: 'POST',
    url: endpoint(target, stream ? 'streamGenerateContent' : 'generateContent'),
    headers: headers(target),
    body: JSON.stringify(body),
  };
}

export function toGenerateContentRequest(req: ChatRequest): GenerateContentRequest {
  const { system, contents } = toContents(req.messages);
  const body: GenerateContentRequest = { contents };
  if (system.length) body.systemInstruction = { parts: system };
  const declarations = functionDeclarations(req);
  if (declarations.length) {
    body.tools = [{ functionDeclarations: declarations }];
    const toolConfig = toToolConfig(req.tool_choice);
    if (toolConfig) body.toolConfig = toolConfig;
  }
  const config = generationConfig(req);
  if (config) body.generationConfig = config;
  return body;
}

// ---------------------------------------------------------------- messages

interface Conversation {
  system: GeminiPart[];
  contents: GeminiContent[];
}

function toContents(messages: ChatMessage[]): Conversation {
  const conv: Conversation = { system: [], contents: [] };
  /** tool_call_id -> function name, filled from assistant turns so tool results can name their function. */
  const callNames = new Map<string, string>();
  messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        conv.system.push(...textParts(m.content, at));
        break;
      case 'user':
        append(conv, 'user', partsFromContent(m.content, at));
        break;
      case 'assistant':
        append(conv, 'model', assistantParts(m, at, callNames));
        break;
      case 'tool':
        append(conv, 'user', [toolResultPart(m, at, callNames)]);
        break;
      case 'function':
        append(conv, 'user', [functionResponse(requireName(m.name, `${at}.name`), textOf(m.content, at))]);
        break;
    }
  });
  return conv;
}

/** Gemini wants alternating turns: consecutive same-role messages (e.g. parallel tool results) share one content. */
function append(conv: Conversation, role: 'user' | 'model', parts: GeminiPart[]): void {
  if (!parts.length) return;
  const last = conv.contents[conv.contents.length - 1];
  if (last && last.role === role) last.parts.push(...parts);
  else conv.contents.push({ role, parts });
}

function textParts(content: ChatMessage['content'], at: string, ignore: readonly string[] = []): GeminiPart[] {
  const text = textOf(content, at, ignore);
  return text ? [{ text }] : [];
}

function assistantParts(m: ChatMessage, at: string, callNames: Map<string, string>): GeminiPart[] {
  // A refusal part is the model's own earlier output; Gemini has no place for it.
  const parts = textParts(m.content, at, ['refusal']);
  (m.tool_calls ?? []).forEach((tc, j) => {
    const name = tc.function.name;
    callNames.set(tc.id, name);
    const part: GeminiPart = { functionCall: { name, args: parseArguments(tc.function.arguments, `${at}.tool_calls[${j}].function.arguments`) } };
    // Gemini 3 rejects a step whose first function call lacks its signature; replay it, or the skip sentinel.
    const signature = signatureOf(tc as Loose);
    if (signature) part.thoughtSignature = signature;
    else if (j === 0) part.thoughtSignature = SKIP_SIGNATURE;
    parts.push(part);
  });
  return parts;
}

/** Where our responses put the signature (the same place as Google's own OpenAI-compatible endpoint). */
function signatureOf(tc: Loose): string | undefined {
  const s = tc.extra_content?.google?.thought_signature;
  return typeof s === 'string' && s ? s : undefined;
}

function parseArguments(raw: string, param: string): Record<string, unknown> {
  if (!raw || !raw.trim()) return {};
  let args: unknown;
  try {
    args = JSON.parse(raw);
  } catch {
    throw invalidRequest(`Tool call arguments are not valid JSON: ${raw.slice(0, 200)}`, param);
  }
  if (!args || typeof args !== 'object' || Array.isArray(args)) throw invalidRequest('Tool call arguments must be a JSON object', param);
  return args as Record<string, unknown>;
}

function toolResultPart(m: ChatMessage, at: string, callNames: Map<string, string>): GeminiPart {
  const id = m.tool_call_id;
  const name = (id !== undefined ? callNames.get(id) : undefined) ?? m.name;
  if (!name) throw invalidRequest(`Tool message refers to tool_call_id ${JSON.stringify(id ?? null)}, which no earlier assistant message issued`, `${at}.tool_call_id`);
  return functionResponse(name, textOf(m.content, at));
}

function requireName(name: string | undefined, param: string): string {
  if (!name) throw invalidRequest('Function message needs a name', param);
  return name;
}

/** A JSON object result is passed as is (Gemini's `response` is a Struct); anything else is wrapped. */
function functionResponse(name: string, text: string): GeminiPart {
  let response: Record<string, unknown> = { content: text };
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) response = parsed as Record<string, unknown>;
  } catch {
    /* plain text result */
  }
  return { functionResponse: { name, response } };
}

// ---------------------------------------------------------------- tools

function functionDeclarations(req: ChatRequest): GeminiFunctionDeclaration[] {
  const out: GeminiFunctionDeclaration[] = [];
  for (const t of req.tools ?? []) {
    if (t.type !== 'function') continue;
    const f = t.function;
    const decl: GeminiFunctionDeclaration = { name: f.name };
    if (f.description) decl.description = f.description;
    // `parametersJsonSchema` takes full JSON Schema; a function without parameters leaves it unset.
    if (f.parameters && !isEmptyObjectSchema(f.parameters)) decl.parametersJsonSchema = cleanJsonSchema(f.parameters);
    out.push(decl);
  }
  return out;
}

function toToolConfig(choice: ChatRequest['tool_choice']): GenerateContentRequest['toolConfig'] {
  if (choice === undefined) return undefined;
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
}

// ---------------------------------------------------------------- generation config

/**
 * Thinking budgets per effort, as Google maps them on its OpenAI-compatible endpoint; `minimal` is the smallest
 * budget every 2.5 model accepts, `xhigh` the largest (Flash's cap), `none` turns thinking off (budget 0).
 */
const THINKING_BUDGET: Record<string, number> = { minimal: 512, low: 1024, medium: 8192, high: 24576, xhigh: 24576 };

function generationConfig(req: ChatRequest): Record<string, unknown> | undefined {
  const g: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined && value !== null) g[key] = value;
  };
  set('temperature', req.temperature);
  set('topP', req.top_p);
  set('maxOutputTokens', req.max_completion_tokens ?? req.max_tokens);
  if (typeof req.stop === 'string') g.stopSequences = [req.stop];
  else if (Array.isArray(req.stop) && req.stop.length) g.stopSequences = req.stop;
  set('candidateCount', req.n);
  set('seed', req.seed);
  set('presencePenalty', req.presence_penalty);
  set('frequencyPenalty', req.frequency_penalty);
  if (req.logprobs) {
    g.responseLogprobs = true;
    if (req.top_logprobs) g.logprobs = req.top_logprobs;
  }
  Object.assign(g, responseFormat(req.response_format));
  if (req.reasoning_effort === 'none') g.thinkingConfig = { thinkingBudget: 0 };
  else if (req.reasoning_effort) g.thinkingConfig = { thinkingBudget: THINKING_BUDGET[req.reasoning_effort], includeThoughts: true };
  return Object.keys(g).length ? g : undefined;
}

function responseFormat(rf: ChatRequest['response_format']): Record<string, unknown> {
  if (!rf || rf.type === 'text') return {};
  if (rf.type === 'json_object') return { responseMimeType: 'application/json' };
  if (rf.type === 'json_schema') {
    const schema = (rf as Loose).json_schema?.schema;
    // `responseJsonSchema` takes JSON Schema as is; the older `responseSchema` takes only an OpenAPI subset.
    return schema && typeof schema === 'object'
      ? { responseMimeType: 'application/json', responseJsonSchema: cleanJsonSchema(schema) }
      : { responseMimeType: 'application/json' };
  }
  return {};
}
