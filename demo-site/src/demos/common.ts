/**
 * What every demo page shares: connecting the browser client to the scheduler that served the page
 * (its WebSocket is at the site's base URL, so the pages work under a sub-path too), the status
 * pill, a progress bar fed by `client.progress`, and the code panel.
 */
import { Client, type ProgressState } from '@meshwork/client';

export type DemoStatus = 'connecting' | 'ready' | 'running' | 'done' | 'failed';

const STATUS_TEXT: Record<DemoStatus, [string, string]> = {
  connecting: ['Connecting…', 'pill-wait'],
  ready: ['Ready', 'pill-ok'],
  running: ['Running…', 'pill-wait'],
  done: ['Done', 'pill-ok'],
  failed: ['Failed', 'pill-bad'],
};

export function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page lacks #${id}`);
  return found as T;
}

export function setText(id: string, text: string): void {
  el(id).textContent = text;
}

/** The status pill (`#status`); `data-state` is what tests wait on. `detail` goes to `#message`. */
export function setStatus(status: DemoStatus, detail = ''): void {
  const pill = el('status');
  const [text, cls] = STATUS_TEXT[status];
  pill.textContent = text;
  pill.className = `pill ${cls}`;
  pill.dataset['state'] = status;
  setText('message', detail ? `· ${detail}` : '');
}

/**
 * The scheduler named by `?scheduler=ws://…` (a page served from another origin, which the
 * scheduler must allow with --allow-origin), else `ws://host/base/` for a page at
 * `http://host/base/<page>` (wss for https).
 */
export function schedulerAddress(): string {
  const named = new URLSearchParams(location.search).get('scheduler');
  if (named !== null) {
    const url = new URL(named);
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new Error(`?scheduler= must be a ws:// or wss:// address, not ${named}`);
    return url.href;
  }
  const url = new URL('./', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  url.hash = '';
  return url.href;
}

/** Connects to the scheduler that served this page; the status says how it went. */
export async function connect(name: string): Promise<Client> {
  setStatus('connecting');
  try {
    const client = await Client.connect(schedulerAddress(), { name });
    setStatus('ready');
    return client;
  } catch (e) {
    setStatus('failed', `Could not connect to the scheduler: ${(e as Error).message}`);
    throw e;
  }
}

/** Draws a step of `client.progress` into `#progress` (a <progress>) and `#progress-text`. */
export function showProgress({ done, total, erred }: ProgressState): void {
  const bar = el<HTMLProgressElement>('progress');
  bar.max = Math.max(1, total);
  bar.value = done;
  setText('progress-text', `${done} / ${total} tasks${erred > 0 ? `, ${erred} failed` : ''}`);
}

/** Shows `source` (the example's own file, imported with `?raw`) in `#code`. */
export function showCode(source: string, file: string): void {
  setText('code', source.trimEnd());
  setText('code-file', file);
}

/** The cluster's workers by id (`/api/state` of the scheduler that served the page). */
export async function workersById(): Promise<Map<string, { name: string; kind: string }>> {
  const res = await fetch(new URL('./api/state', location.href));
  const state = (await res.json()) as { workers: { id: string; name: string; kind: string }[] };
  return new Map(state.workers.map((w) => [w.id, { name: w.name, kind: w.kind }]));
}

/** The value of the number input `#id`, which must be a positive integer within its bounds. */
export function numberInput(id: string): number {
  const input = el<HTMLInputElement>(id);
  const value = input.valueAsNumber;
  if (!Number.isInteger(value) || !input.checkValidity())
    throw new Error(`${id}: ${input.validationMessage || 'not a whole number'}`);
  return value;
}

/** Enables `#run-button`; a click runs `work` once at a time, with the status following it. */
export function runButton(work: () => Promise<void>): void {
  const button = el<HTMLButtonElement>('run-button');
  button.disabled = false;
  button.addEventListener('click', () => {
    button.disabled = true;
    setStatus('running');
    work()
      .then(
        () => setStatus('done'),
        (e: Error) => setStatus('failed', e.message),
      )
      .finally(() => (button.disabled = false));
  });
  if (new URLSearchParams(location.search).has('autostart')) button.click();
}
