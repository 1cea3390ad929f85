/**
 * The script each worker_thread runs: the runtime-free TaskRunner, exposed to the host through
 * comlink over its Node adapter. A result's bytes are transferred back, not copied.
 */
import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { TaskRunner, type TaskReply, type TaskRequest } from '../core/task-runner.js';

/** What the host calls on a thread. */
export interface ThreadApi {
  run(req: TaskRequest): Promise<TaskReply>;
  ping(): true;
}

if (parentPort) {
  const runner = new TaskRunner();
  const api: ThreadApi = {
    async run(req) {
      const reply = await runner.run(req);
      return reply.ok ? Comlink.transfer(reply, [reply.bytes.buffer]) : reply;
    },
    ping: () => true,
  };
  Comlink.expose(api, nodeEndpoint(parentPort));
}
