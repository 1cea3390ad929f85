/**
 * For tests of what the scheduler keeps: whether a string is a copy of its own, and a full collection.
 * Strings decoded from a frame are slices of the frame's text (msgpackr reads its short strings in
 * one go); V8 says whether a string is one of its internalized copies (what `ownString` makes).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext, runInThisContext } from 'node:vm';
import { WorkerChannel, encodeFrame, parseFrame } from '@meshwork/protocol';

setFlagsFromString('--allow-natives-syntax');
export const isOwnCopy = runInThisContext('(s) => %IsInternalizedString(s)') as (s: string) => boolean;
setFlagsFromString('--expose-gc');
export const gc = runInNewContext('gc') as () => void;

const workerTypes = new Set(WorkerChannel.WorkerToServer.options.map((o) => o.entries.type.literal));

/** A worker's message as the scheduler gets it: encoded in a frame and decoded again. */
export function fromWorkerFrame(message: WorkerChannel.WorkerToServer): WorkerChannel.WorkerToServer {
  const { messages, errors } = parseFrame(encodeFrame([message]), WorkerChannel.WorkerToServer, workerTypes);
  const [decoded] = messages;
  if (!decoded || errors.length > 0) throw new Error(`refused: ${JSON.stringify(errors)}`);
  return decoded;
}
