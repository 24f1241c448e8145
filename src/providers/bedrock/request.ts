/**
 * OpenAI Chat Completions request -> Bedrock Converse request body. Pure: no I/O. What Converse cannot
 * express (image URLs it cannot fetch, unparsable tool arguments, ...) is a 400 UpstreamError.
 */
import type { ChatMessage, ChatRequest, UpstreamTarget } from '../types.ts';
import { UpstreamError } from '../errors.ts';
import { withThinkingBudget } from '../anthropic/request.ts';
import type { ContentBlock, ConverseMessage, ConverseRequest, ImageBlock, ImageFormat, ToolChoice, ToolResultBlock, ToolSpec } from './wire.ts';

type Json = Record<string, any>;

/** Same budgets as the Anthropic adapter, so Claude behaves alike on either route; `none` and `minimal` mean no thinking. */
export const THINKING_BUDGETS: Record<string, number> = { low: 1024, medium: 4096, high: 16384, xhigh: 32768 };

const JSON_OBJECT_INSTRUCTION = 'Respond with a single valid JSON object only, with no text before or after it.';

const invalid = (message: string, code = 'invalid_request', param: string | null = null) =>
  new UpstreamError(400, 'invalid_request_error', message, code, false, undefined, undefined, param);

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `${baseUrl}/model/{id}/{action}`; the id is percent-encoded (ARNs and profile ids hold ':' and '/'). */
export function modelUrl(baseUrl: string, model: string, action: 'converse' | 'converse-stream' | 'invoke'): string {
  return `${baseUrl.replace(/\/+$/, '')}/model/${encodeURIComponent(model)}/${action}`;
}

/** The tool that carries a `json_schema` answer: forced, and its input becomes the message content. */
export interface SchemaTool {
  name: string;
  description?: string;
  schema: Record<string, unknown>;
}

export function schemaToolOf(req: ChatRequest): SchemaTool | undefined {
  const rf = req.response_format;
  if (!rf || rf.type !== 'json_schema' || !('json_schema' in rf)) return undefined;
  const js = rf.json_schema as { name: string; description?: string; schema?: Record<string, unknown> };
  // Converse tool names allow letters, digits, '_' and '-' (1-64).
  const name = js.name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'json_response';
  return { name, description: js.description, schema: js.schema ?? { type: 'object' } };
}

// ---------------------------------------------------------------- content

const IMAGE_FORMATS: Record<string, ImageFormat> = { png: 'png', jpeg: 'jpeg', jpg: 'jpeg', gif: 'gif', webp: 'webp' };

function imageBlock(part: Json, param: string): ImageBlock {
  const iu = part.image_url;
  const url: string = typeof iu === 'string' ? iu : isObject(iu) && typeof iu.url === 'string' ? iu.url : '';
  const data = /^data:image\/([a-z0-9.+-]+)((?:;[^;,]*)*?);base64,(.*)$/is.exec(url);
  if (data) {
    const format = IMAGE_FORMATS[data[1].toLowerCase()];
    if (!format) throw invalid(`Bedrock accepts png, jpeg, gif or webp images, not image/${data[1]}`, 'unsupported_image_format', param);
    return { image: { format, source: { bytes: data[3] } } };
  }
  if (/^s3:\/\//i.test(url)) {
    const ext = /\.([a-z0-9]+)$/i.exec(url)?.[1]?.toLowerCase() ?? '';
    const format = IMAGE_FORMATS[ext];
    if (!format) throw invalid('An s3:// image URI must end in .png, .jpg, .jpeg, .gif or .webp', 'unsupported_image_format', param);
    return { image: { format, source: { s3Location: { uri: url } } } };
  }
  if (/^https?:\/\//i.test(url)) {
    throw invalid(
      'Bedrock Converse does not fetch image URLs: send the image as a base64 data URL (data:image/png;base64,...) or an s3:// URI',
      'unsupported_image_url',
      param,
    );
  }
  throw invalid('image_url must be a base64 data URL or an s3:// URI for Bedrock', 'invalid_image_url', param);
}

/** Plain text of a message's content (string or text/refusal parts). */
function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((p) => {
      const part = p as Json;
      if (part.type === 'text' && typeof part.text === 'string') return part.text;
      if (part.type === 'refusal' && typeof part.refusal === 'string') return part.refusal;
      return '';
    })
    .join('');
}

function userBlocks(msg: ChatMessage, i: number): ContentBlock[] {
  const c = msg.content;
  if (typeof c === 'string') return c ? [{ text: c }] : [];
  if (!Array.isArray(c)) return [];
  const out: ContentBlock[] = [];
  c.forEach((p, j) => {
    const part = p as Json;
    const param = `messages[${i}].content[${j}]`;
    if (part.type === 'text') {
      if (typeof part.text === 'string' && part.text) out.push({ text: part.text });
    } else if (part.type === 'image_url') out.push(imageBlock(part, param));
    else throw invalid(`Content part type '${String(part.type)}' is not supported by Bedrock Converse`, 'unsupported_content', param);
  });
  return out;
}

function parseArguments(args: string, param: string): Json {
  if (!args.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw invalid(`Tool call arguments are not valid JSON: ${args.slice(0, 200)}`, 'invalid_tool_arguments', param);
  }
  if (!isObject(parsed)) throw invalid('Tool call arguments must be a JSON object', 'invalid_tool_arguments', param);
  return parsed;
}

function assistantBlocks(msg: ChatMessage, i: number): ContentBlock[] {
  const out: ContentBlock[] = [];
  // Prior reasoning is dropped: Converse wants it back only with the model's signature, which we do not carry.
  const text = textOf(msg.content);
  if (text) out.push({ text });
  (msg.tool_calls ?? []).forEach((tc, j) => {
    const input = parseArguments(tc.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`);
    out.push({ toolUse: { toolUseId: tc.id, name: tc.function.name, input } });
  });
  return out;
}

/** A tool result: JSON objects travel as `json`, anything else as text. */
function toolResultBlock(msg: ChatMessage, i: number): ToolResultBlock {
  if (!msg.tool_call_id) throw invalid('A tool message needs tool_call_id', 'invalid_request', `messages[${i}].tool_call_id`);
  const text = textOf(msg.content);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const content = isObject(json) ? [{ json }] : [{ text: text || '(empty)' }];
  return { toolResult: { toolUseId: msg.tool_call_id, content } };
}

export interface TranslatedMessages {
  system: { text: string }[];
  messages: ConverseMessage[];
}

/** System/developer messages become `system`; the rest become turns, consecutive same-role turns merged. */
export function toConverseMessages(req: ChatRequest): TranslatedMessages {
  const system: { text: string }[] = [];
  const messages: ConverseMessage[] = [];
  const push = (role: 'user' | 'assistant', blocks: ContentBlock[]) => {
    if (!blocks.length) return; // Converse rejects empty turns and blank text
    const last = messages[messages.length - 1];
    if (last && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  req.messages.forEach((msg, i) => {
    switch (msg.role) {
      case 'system':
      case 'developer': {
        const text = textOf(msg.content);
        if (text) system.push({ text });
        break;
      }
      case 'user':
        push('user', userBlocks(msg, i));
        break;
      case 'assistant':
        push('assistant', assistantBlocks(msg, i));
        break;
      case 'tool':
        push('user', [toolResultBlock(msg, i)]);
        break;
      default:
        throw invalid(`Message role '${msg.role}' is not supported by Bedrock Converse`, 'invalid_request', `messages[${i}].role`);
    }
  });
  return { system, messages };
}

// ---------------------------------------------------------------- tools

const toolSpec = (name: string, description: string | undefined, schema: unknown): ToolSpec => ({
  toolSpec: { name, ...(description ? { description } : {}), inputSchema: { json: schema ?? { type: 'object', properties: {} } } },
});

/** Names of tools used in the conversation (toolUse blocks). */
function historyToolNames(messages: ConverseMessage[]): { names: string[]; any: boolean } {
  const names = new Set<string>();
  let any = false;
  for (const m of messages) {
    for (const b of m.content) {
      if ('toolUse' in b) {
        names.add(b.toolUse.name);
        any = true;
      } else if ('toolResult' in b) any = true;
    }
  }
  return { names: [...names], any };
}

function toolConfigOf(req: ChatRequest, messages: ConverseMessage[], schemaTool: SchemaTool | undefined): ConverseRequest['toolConfig'] {
  let tools: ToolSpec[] = (req.tools ?? []).map((t) => toolSpec(t.function.name, t.function.description, t.function.parameters));
  const history = historyToolNames(messages);
  const choice = req.tool_choice;
  let toolChoice: ToolChoice | undefined;
  if (choice === 'none') {
    // Converse has no "none"; dropping the tools does it, unless the history holds tool blocks: then
    // Bedrock requires a toolConfig, so the tools stay and only the choice is left out.
    if (!history.any) tools = [];
  } else if (choice === 'required') toolChoice = { any: {} };
  else if (choice === 'auto') toolChoice = { auto: {} };
  else if (isObject(choice)) toolChoice = { tool: { name: choice.function.name } };

  if (schemaTool) {
    const userTools = tools.length > 0;
    tools = [...tools, toolSpec(schemaTool.name, schemaTool.description ?? 'Respond with the final answer in this structure.', schemaTool.schema)];
    // Alone (or with tool_choice none), the schema tool is forced; beside the caller's tools, the model
    // must call one of them.
    if (!userTools || choice === 'none') toolChoice = { tool: { name: schemaTool.name } };
    else if (!toolChoice || 'auto' in toolChoice) toolChoice = { any: {} };
  }

  if (!tools.length && history.any) {
    // Tool blocks in history but no tools declared: Bedrock still wants a toolConfig naming them.
    tools = history.names.map((name) => toolSpec(name, undefined, undefined));
  }
  if (!tools.length) return undefined;
  return toolChoice ? { tools, toolChoice } : { tools };
}

// ---------------------------------------------------------------- request

const isAnthropicModel = (model: string) => /anthropic|claude/i.test(model);

/** Whether the latest assistant turn called tools (the conversation is inside a tool loop). */
function inToolLoop(messages: ConverseMessage[]): boolean {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'assistant') return messages[i].content.some((b) => 'toolUse' in b);
  }
  return false;
}

/**
 * The `maxTokens` sent to Converse (undefined: none, the model's limit applies). OpenAI's limit counts
 * reasoning too, but Claude needs max_tokens above the budget: it is kept as answer room. Without `thinking`
 * given (admission, see providers/max-tokens.ts), thinking is assumed on whenever it could be: an upper bound.
 */
export function converseMaxTokens(model: string, req: ChatRequest, thinking?: boolean): number | undefined {
  const maxTokens = req.max_completion_tokens ?? req.max_tokens ?? undefined;
  if (maxTokens === undefined) return undefined;
  const budget = req.reasoning_effort ? THINKING_BUDGETS[req.reasoning_effort] : undefined;
  return withThinkingBudget(maxTokens, (thinking ?? isAnthropicModel(model)) ? budget : undefined);
}

/** Builds the Converse body (identical for `/converse` and `/converse-stream`). */
export function toConverseRequest(target: UpstreamTarget, req: ChatRequest): ConverseRequest {
  // Converse returns one choice and no token logprobs: refuse rather than silently drop them.
  if (req.n != null && req.n > 1) throw invalid('n > 1 (several choices) is not supported by Bedrock Converse; send n: 1 or separate requests.', 'unsupported_parameter', 'n');
  if (req.logprobs === true) throw invalid('logprobs is not supported by Bedrock Converse.', 'unsupported_parameter', 'logprobs');
  const { system, messages } = toConverseMessages(req);
  const schemaTool = schemaToolOf(req);
  if (req.response_format?.type === 'json_object') system.push({ text: JSON_OBJECT_INSTRUCTION });

  const toolConfig = toolConfigOf(req, messages, schemaTool);
  const forcedTool = !!toolConfig?.toolChoice && !('auto' in toolConfig.toolChoice);

  // Extended thinking (Claude only) is incompatible with forced tool use and with sampling changes. Mid
  // tool loop, Claude wants its signed thinking block back in the last assistant turn, which OpenAI
  // messages cannot carry: thinking stays off there.
  const budget = req.reasoning_effort ? THINKING_BUDGETS[req.reasoning_effort] : undefined;
  const thinking = budget !== undefined && !forcedTool && isAnthropicModel(target.model) && !inToolLoop(messages);

  const inference: NonNullable<ConverseRequest['inferenceConfig']> = {};
  const maxTokens = converseMaxTokens(target.model, req, thinking);
  if (maxTokens !== undefined) inference.maxTokens = maxTokens;
  if (!thinking) {
    // Converse accepts 0..1; OpenAI allows temperature up to 2.
    if (req.temperature != null) inference.temperature = Math.min(1, req.temperature);
    if (req.top_p != null) inference.topP = req.top_p;
  }
  const stop = req.stop == null ? [] : (Array.isArray(req.stop) ? req.stop : [req.stop]).filter((s) => s.length > 0);
  if (stop.length) inference.stopSequences = stop;

  const body: ConverseRequest = { messages };
  if (system.length) body.system = system;
  if (Object.keys(inference).length) body.inferenceConfig = inference;
  if (toolConfig) body.toolConfig = toolConfig;
  if (thinking) body.additionalModelRequestFields = { thinking: { type: 'enabled', budget_tokens: budget } };
  return body;
}
