/**
 * The task classifier behind `router:code` and `router:auto`: pure, in memory, no tokenizer. It reads the
 * messages (the last user message is the task; earlier turns and the system prompt are context) and returns a
 * category, a complexity level and the signals that led there. Long prompts are sampled (head and tail), so
 * the cost stays in microseconds whatever the prompt size.
 */
import type { ChatMessage } from '../../providers/types.ts';

export const CATEGORIES = ['generation', 'debugging', 'refactoring', 'explanation', 'review', 'testing', 'architecture', 'documentation', 'simple_question', 'general'] as const;
export type Category = (typeof CATEGORIES)[number];

export const CATEGORY_INFO: Record<Category, string> = {
  generation: 'Write new code: functions, classes, scripts, endpoints, components.',
  debugging: 'Find and fix a bug: errors, stack traces, wrong output.',
  refactoring: 'Restructure or improve existing code without changing behaviour.',
  explanation: 'Explain what code does or how something works.',
  review: 'Review code for correctness, security and style.',
  testing: 'Write or fix tests: unit, integration, mocks, coverage.',
  architecture: 'Design systems, services, schemas and their trade-offs.',
  documentation: 'Write docs, docstrings, comments and READMEs.',
  simple_question: 'A short question with no code to work on.',
  general: 'Not a coding task (router:auto routes these by complexity).',
};

export const COMPLEXITIES = ['low', 'medium', 'high'] as const;
export type Complexity = (typeof COMPLEXITIES)[number];

export const COMPLEXITY_INFO: Record<Complexity, string> = {
  low: 'Short, self-contained, little or no code.',
  medium: 'Real code to work on: a code block, a stack trace, some context or tools.',
  high: 'Long or multi-file context, hard topics (concurrency, distributed systems, security), agentic tool use.',
};

export interface ClassifyInput {
  messages: ChatMessage[];
  /** Tools the request declares. */
  tools?: readonly unknown[] | null;
}

export interface Classification {
  category: Category;
  complexity: Complexity;
  /** 0..1: how clearly the winning category beat the others. */
  confidence: number;
  /** The task is about code (category is one of the coding ones). */
  code: boolean;
  /** The request declares tools. */
  tools: boolean;
  /** Estimated prompt tokens (bytes / 4). */
  inputTokens: number;
  /** What the decision rests on, e.g. `stack_trace`, `code_blocks:2`, `hard:concurrency`. */
  signals: string[];
}

/** Characters of each part the keyword rules read: the head and the tail of longer texts. */
const SAMPLE = 6000;

function sample(text: string): string {
  return text.length <= 2 * SAMPLE ? text : `${text.slice(0, SAMPLE)}\n${text.slice(-SAMPLE)}`;
}

function textOf(m: ChatMessage): string {
  if (typeof m.content === 'string') return m.content;
  if (!Array.isArray(m.content)) return '';
  let s = '';
  for (const part of m.content) if (part.type === 'text' && typeof (part as { text?: unknown }).text === 'string') s += (part as { text: string }).text + '\n';
  return s;
}

type Scored = Exclude<Category, 'simple_question' | 'general'>;

/** Keyword rules per category: [pattern, weight]. Patterns are case-insensitive and match whole words. */
const RULES: Record<Scored, [RegExp, number][]> = {
  debugging: [
    [/\b(debug(ging)?|bugs?|fix(es|ing)?|broken|crash(es|ed|ing)?|exceptions?|errors?|fail(s|ed|ing)?|not working|doesn'?t work|does not work|wrong (output|result|answer)|unexpected(ly)?|hangs?|segfault|null pointer|undefined is not|cannot read propert)/i, 2],
    [/\b(why (is|does|do|am) .{0,60}(fail|error|crash|wrong|break|null|undefined))/i, 2],
  ],
  refactoring: [
    [/\b(refactor(ing)?|clean(ing)? ?up|restructur(e|ing)|simplif(y|ies|ying)|rewrite|decouple|moderni[sz]e|de-?duplicate|dry up|extract (a |the |this )?(method|function|class|component|module)|split (this|the) (function|class|file|module))/i, 3],
    [/\b(more (readable|maintainable|idiomatic|pythonic)|improve (the )?(readability|structure|naming|code quality)|rename)/i, 2],
    [/\b(optimi[sz]e|speed up|make (it|this) faster|reduce (memory|allocations))/i, 1.5],
  ],
  explanation: [
    [/\b(explain|what does|what do|what is|what are|what's|how does|how do|how is|why does|why do|walk me through|help me understand|meaning of|difference between|tell me about)\b/i, 2],
  ],
  review: [
    [/\b(review|code review|critique|audit|look over|feedback on|any (issues|problems|bugs) (in|with)|best practices?|security (issues|holes|vulnerabilit)|is this (code )?(good|correct|ok|okay|idiomatic|safe))/i, 3],
  ],
  testing: [
    [/\b(unit ?tests?|tests? cases?|write (some |the )?tests?|test suite|integration tests?|e2e tests?|end-to-end tests?|jest|mocha|vitest|pytest|unittest|junit|rspec|test coverage|coverage report|mock(ing|s)? (the|a|an|out)|tdd|snapshot tests?|property-based)/i, 3],
  ],
  architecture: [
    [/\b(architect(ure|ing)?|system design|design (a|an|the|my) (system|service|platform|backend|api|schema|database|pipeline)|scalab(le|ility)|microservices?|distributed (system|systems|cache|lock|queue)|high availability|trade-?offs?|event-driven|message (queue|bus|broker)|sharding|multi-region|domain model|data model)/i, 3],
  ],
  documentation: [
    [/\b(documentation|document (this|the|my)|docstrings?|jsdoc|javadoc|readme|write (the )?docs|api docs|add comments|comment (this|the) code|changelog|typedoc)/i, 3],
  ],
  generation: [
    [/\b(write|create|implement|build|generate|scaffold|develop|add|make|port|convert|translate) (me )?(a|an|the|some|this|my)?\b/i, 1.5],
    [/\b(functions?|class|script|component|endpoint|program|module|cli|app|service|hook|query|regex|algorithm|parser)\b/i, 1],
  ],
};

/** When scores tie, the more specific category wins. */
const PRIORITY: Scored[] = ['debugging', 'testing', 'review', 'refactoring', 'architecture', 'documentation', 'explanation', 'generation'];

const FENCE = /```/g;
const STACK_TRACE =
  /(Traceback \(most recent call last\)|^[ \t]+at \S+ \(\S+:\d+(:\d+)?\)|^[ \t]+at \S+:\d+:\d+|Exception in thread "|^[ \t]*File "[^"\n]+", line \d+|^[\w.$]*(Error|Exception): |panic: |Segmentation fault|error\[E\d{4}\]|^[ \t]*#\d+ 0x[0-9a-f]+ in )/m;
const CODE_LINE =
  /^\s*(def |class |function |async function |const |let |var |import |export |from \S+ import |#include|package |public |private |protected |fn |func |impl |return |if \(|for \(|while \(|SELECT |INSERT |UPDATE |CREATE TABLE|@\w+\(|\}\s*$|<\/?[a-z][\w-]*[ >])/gim;
const FILE_PATH = /(?<![\w./-])(?:\.{0,2}\/)?(?:[\w-]+\/)*[\w-]+(?:\.[\w-]+)*\.(tsx?|jsx?|mjs|cjs|py|go|rs|java|kt|rb|php|cs|cpp|cc|c|h|hpp|swift|scala|sql|sh|ya?ml|toml|vue|svelte|tf|gradle)\b/gi;
const CODE_TERMS =
  /\b(python|javascript|typescript|java|golang|rust|c\+\+|c#|kotlin|swift|ruby|php|sql|bash|shell script|react|vue|angular|svelte|node\.?js|deno|django|flask|fastapi|express|spring( boot)?|docker|kubernetes|terraform|regex|functions?|class(es)?|methods?|variables?|compiler|api|endpoints?|database|queries|query|algorithm|closures?|async|await|promises?|recursion|arrays?|hash ?maps?|pointers?|structs?|interfaces?|generics?|lambda|git|npm|pip|cargo|json|yaml|http|css|html|code|codebase|repo(sitory)?|bug|stack trace|compile|runtime|null|undefined|microservices?|backend|frontend|server|schema|cache|load balancer|webhooks?|sdk|library|framework)\b/gi;
const MULTI_FILE = /\b(multiple files|several files|across (the |our |my )?(codebase|files|modules|services|repo|repository|project)|(entire|whole) (codebase|project|repo|repository)|monorepo)\b/i;
const HARD =
  /\b(concurren(t|cy)|race conditions?|deadlocks?|thread[- ]safe(ty)?|lock-?free|distributed|consensus|scal(able|ability|ing)|performance|latency|throughput|optimi[sz](e|ation)|memory leaks?|security|vulnerabilit(y|ies)|cryptograph(y|ic)|migrations?|architecture|algorithm(ic)? complexity|big-?o|production|legacy|transactions?|consistency|idempoten(t|cy)|backward[- ]compatib(le|ility)|zero[- ]downtime|compiler|kernel|real-time)\b/gi;
const EASY = /\b(simple|quick(ly)?|small|tiny|one-?liner|typo|trivial|basic|hello world|snippet|short)\b/i;
const QUESTION = /^(what|how|why|when|where|which|who|is|are|can|could|should|does|do|explain)\b|\?\s*$/i;

function countMatches(re: RegExp, text: string): number {
  re.lastIndex = 0;
  let n = 0;
  while (re.exec(text)) n++;
  return n;
}

function distinct(re: RegExp, text: string, cap: number): string[] {
  re.lastIndex = 0;
  const seen = new Set<string>();
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) && seen.size < cap) seen.add(m[0].toLowerCase());
  return [...seen];
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export function classify(input: ClassifyInput): Classification {
  const signals: string[] = [];
  const messages = input.messages;
  let lastUser = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') {
      lastUser = i;
      break;
    }
  }
  let bytes = 0;
  let contextText = '';
  let toolTurns = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const t = textOf(m);
    bytes += Buffer.byteLength(t);
    if (m.role === 'tool' || m.role === 'function' || m.tool_calls?.length) toolTurns++;
    if (i !== lastUser && contextText.length < 2 * SAMPLE) contextText += sample(t) + '\n';
  }
  const tools = Boolean(input.tools?.length);
  if (tools) bytes += 200 * input.tools!.length;
  const inputTokens = Math.ceil(bytes / 4);
  const task = lastUser >= 0 ? sample(textOf(messages[lastUser])) : '';
  const all = `${task}\n${contextText}`;

  // Code signals.
  const fences = Math.floor(countMatches(FENCE, all) / 2);
  const stackTrace = STACK_TRACE.test(all);
  const codeLines = countMatches(CODE_LINE, all);
  const files = distinct(FILE_PATH, all, 20);
  const terms = distinct(CODE_TERMS, all, 4);
  const codeScore = 3 * fences + (stackTrace ? 3 : 0) + 2 * Math.min(files.length, 3) + Math.min(codeLines, 4) + terms.length;
  if (fences) signals.push(`code_blocks:${fences}`);
  if (stackTrace) signals.push('stack_trace');
  if (files.length) signals.push(`files:${files.length}`);
  if (codeLines >= 3) signals.push(`code_lines:${codeLines}`);

  // Category scores: the task counts fully, the context a quarter.
  const scores = new Map<Scored, number>();
  for (const cat of PRIORITY) {
    let s = 0;
    for (const [re, w] of RULES[cat]) {
      if (re.test(task)) s += w;
      else if (contextText && re.test(contextText)) s += w / 4;
    }
    scores.set(cat, s);
  }
  if (stackTrace) scores.set('debugging', scores.get('debugging')! + 4);
  const ranked = [...PRIORITY].sort((a, b) => scores.get(b)! - scores.get(a)! || PRIORITY.indexOf(a) - PRIORITY.indexOf(b));
  const top = ranked[0];
  const topScore = scores.get(top)!;
  const second = scores.get(ranked[1])!;

  // Engineering wording strong enough on its own (designing systems, writing tests, refactoring) counts as code.
  const code = codeScore >= 2 || (topScore >= 3 && (top === 'architecture' || top === 'testing' || top === 'refactoring'));
  const short = task.length <= 300 && fences === 0 && !stackTrace;
  const question = QUESTION.test(task.trim());
  let category: Category;
  let confidence: number;
  if (!code) {
    category = short && question ? 'simple_question' : 'general';
    confidence = round2(Math.min(0.95, 0.6 + (2 - Math.min(codeScore, 2)) * 0.15));
  } else if (topScore === 0) {
    category = short && question ? 'simple_question' : 'generation';
    confidence = 0.5;
  } else if (short && question && (top === 'explanation' || top === 'generation') && codeLines === 0) {
    category = 'simple_question';
    confidence = round2(Math.min(0.95, 0.55 + topScore / 10));
  } else {
    category = top;
    confidence = round2(Math.min(0.99, Math.max(0.4, topScore / (topScore + second + 1))));
  }
  signals.unshift(`category:${category}`);

  // Complexity points.
  let points = 0;
  if (inputTokens >= 16_000) points += 3;
  else if (inputTokens >= 4_000) points += 2;
  else if (inputTokens >= 1_000) points += 1;
  if (inputTokens >= 1_000) signals.push(`tokens:${inputTokens}`);
  if (codeLines > 60) {
    points += 1;
    signals.push('long_code');
  }
  if (stackTrace) points += 1;
  if (files.length >= 3 || MULTI_FILE.test(all)) {
    points += 1;
    signals.push('multi_file');
  }
  const hard = distinct(HARD, task || all, 6);
  if (hard.length) {
    points += hard.length >= 3 ? 2 : 1;
    signals.push(`hard:${hard.join(',')}`);
  }
  if (EASY.test(task) && !stackTrace) {
    points -= 1;
    signals.push('easy_wording');
  }
  if (tools) {
    points += 1;
    signals.push('tools');
  }
  if (toolTurns) {
    points += 1;
    signals.push(`tool_turns:${toolTurns}`);
  }
  if (messages.length > 8) {
    points += 1;
    signals.push(`turns:${messages.length}`);
  }
  if (category === 'architecture') points += 1;
  if (category === 'simple_question') points -= 1;
  const complexity: Complexity = points >= 3 ? 'high' : points >= 1 ? 'medium' : 'low';

  return { category, complexity, confidence, code: code && category !== 'general', tools, inputTokens, signals };
}
