/** Prometheus text exposition for the tokens-per-second view (scraped like /metrics, computed from rollups). */

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labels = (provider: string | null, model: string | null) => `{provider="${escape(provider ?? '')}",model="${escape(model ?? '')}"}`;

export interface TpsRow {
  provider: string | null;
  model: string | null;
  output_tokens_per_second: number | null;
  throughput_tokens_per_second: number;
}

export function tokensPerSecondProm(rows: readonly TpsRow[]): string {
  const out: string[] = [
    '# HELP switchyard_output_tokens_per_second Output tokens per second of request time over successful requests in the window.',
    '# TYPE switchyard_output_tokens_per_second gauge',
  ];
  for (const r of rows) if (r.output_tokens_per_second !== null) out.push(`switchyard_output_tokens_per_second${labels(r.provider, r.model)} ${r.output_tokens_per_second}`);
  out.push('# HELP switchyard_throughput_tokens_per_second All tokens processed per second of wall-clock time in the window.');
  out.push('# TYPE switchyard_throughput_tokens_per_second gauge');
  for (const r of rows) out.push(`switchyard_throughput_tokens_per_second${labels(r.provider, r.model)} ${r.throughput_tokens_per_second}`);
  return out.join('\n') + '\n';
}
