import type { ChatStream } from '../../src/providers/chat-stream.ts';
import type { ChatChunk } from '../../src/providers/types.ts';

/** Reads a ChatStream to its end into `into` (so chunks read before a failure stay visible to the caller). */
export async function readChunks(stream: ChatStream, into: ChatChunk[] = []): Promise<ChatChunk[]> {
  for (let batch = await stream.read(); batch; batch = await stream.read()) into.push(...batch);
  return into;
}
