/** A worker's data link for tests (TCP on port 0): answers get-data from `store`, stores put-data in it. */
import { createServer, type Server } from 'node:net';
import { PeerChannel, PeerFrameReader, encodePeerFrame, parseMessage, typesOf } from '@meshwork/protocol';

const requestTypes = typesOf(PeerChannel.PeerRequest);

export interface FakeWorker {
  server: Server;
  address: string;
  requests: PeerChannel.PeerRequest[];
  store: Map<string, Uint8Array>;
  /** When each connection closed (Date.now()), in order. */
  closes: number[];
}

export interface FakeWorkerOptions {
  /** Refuse put-data for keys this returns a reason for. */
  refusePut?: (key: string) => string | undefined;
  /** After answering a get-data, go on sending junk every 20 ms until the connection closes. */
  chatter?: boolean;
}

export async function fakeWorker(store = new Map<string, Uint8Array>(), options: FakeWorkerOptions = {}): Promise<FakeWorker> {
  const requests: PeerChannel.PeerRequest[] = [];
  const closes: number[] = [];
  // A chatty worker keeps its side open when the client ends its own, as a hostile one would.
  const server = createServer({ allowHalfOpen: options.chatter === true }, (socket) => {
    let junk: NodeJS.Timeout | undefined;
    socket.on('close', () => {
      clearInterval(junk);
      closes.push(Date.now());
    });
    socket.on('error', () => {});
    const reader = new PeerFrameReader();
    const send = (parts: Uint8Array[]): void => {
      for (const p of parts) socket.write(p);
    };
    socket.on('data', (chunk) => {
      for (const { header, body } of reader.push(chunk)) {
        const parsed = parseMessage(header, PeerChannel.PeerRequest, requestTypes);
        if (!parsed.ok) throw new Error(parsed.error.message);
        const m = parsed.message;
        requests.push(m);
        if (m.type === 'get-data') {
          for (const key of m.keys) {
            const bytes = store.get(key);
            send(
              bytes
                ? encodePeerFrame({ type: 'data', id: m.id, key, nbytes: bytes.byteLength }, bytes)
                : encodePeerFrame({ type: 'data-missing', id: m.id, key }),
            );
          }
          if (options.chatter) junk ??= setInterval(() => socket.write(new Uint8Array(1024)), 20);
        } else if (m.type === 'put-data') {
          const refused = options.refusePut?.(m.key);
          if (refused) {
            send(encodePeerFrame({ type: 'error', code: 'BAD_REQUEST', message: refused, replyTo: m.id }));
          } else {
            store.set(m.key, new Uint8Array(body));
            send(encodePeerFrame({ type: 'put-ok', id: m.id, key: m.key }));
          }
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `tcp://127.0.0.1:${(server.address() as { port: number }).port}`, requests, store, closes };
}
