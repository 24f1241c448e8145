/**
 * Shapes of the Gemini API (generativelanguage v1beta) as this adapter reads and writes them.
 * Only the fields we use are spelled out; the API sends more (safetyRatings, citationMetadata, ...).
 */

export interface GeminiFunctionCall {
  /** Only some surfaces (Live API, newer models) fill it in. */
  id?: string;
  name: string;
  args?: Record<string, unknown>;
}

export interface GeminiPart {
  text?: string;
  /** Marks a thought-summary part (only sent when `thinkingConfig.includeThoughts` is on). */
  thought?: boolean;
  /** Opaque signature that must be echoed back with the part it came on (function calls on Gemini 3). */
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType?: string; fileUri: string };
  functionCall?: GeminiFunctionCall;
  functionResponse?: { id?: string; name: string; response: Record<string, unknown> };
  [extra: string]: unknown;
}

export interface GeminiContent {
  role?: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiUsageMetadata {
  /** Whole prompt, cached content included. */
  promptTokenCount?: number;
  cachedContentTokenCount?: number;
  /** Output of all candidates, thoughts excluded. */
  candidatesTokenCount?: number;
  toolUsePromptTokenCount?: number;
  thoughtsTokenCount?: number;
  totalTokenCount?: number;
  [extra: string]: unknown;
}

export interface GeminiLogprobsCandidate {
  token?: string;
  tokenId?: number;
  logProbability?: number;
}

export interface GeminiLogprobsResult {
  topCandidates?: { candidates?: GeminiLogprobsCandidate[] }[];
  chosenCandidates?: GeminiLogprobsCandidate[];
}

export interface GeminiCandidate {
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
  index?: number;
  logprobsResult?: GeminiLogprobsResult;
  [extra: string]: unknown;
}

export interface GenerateContentResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string; [extra: string]: unknown };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
  error?: GeminiErrorBody;
  [extra: string]: unknown;
}

/** Google's error object: `{ error: { code, message, status, details } }`. */
export interface GeminiErrorBody {
  code?: number;
  message?: string;
  status?: string;
  details?: { '@type'?: string; retryDelay?: string; [extra: string]: unknown }[];
}

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  parametersJsonSchema?: Record<string, unknown>;
}

export interface GenerateContentRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: GeminiPart[] };
  tools?: { functionDeclarations: GeminiFunctionDeclaration[] }[];
  toolConfig?: { functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] } };
  generationConfig?: Record<string, unknown>;
}
