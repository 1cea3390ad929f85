/**
 * Names that stand for content: function ids, pure task keys, content-addressed scatter keys.
 * A name of this kind is believed only because it is the digest of what it names, so the digest
 * must be one nobody can aim at: SHA-256 (synchronous, runtime-free), cut to DIGEST_HEX_CHARS
 * characters. A rival who knows a victim's key cannot make another function or other arguments
 * with the same name (that is a second preimage: 2^128 work), so the scheduler can recompute a
 * pure key from its spec and let clients share it safely (see the trust model in the README).
 */
import { sha256 } from '@noble/hashes/sha2';
import { hexOf } from './hex.js';

/** Hex characters of a content digest: 128 bits. */
export const DIGEST_HEX_CHARS = 32;

const utf8 = new TextEncoder();
/** A pure key: `<name>-<digest>`. */
const PURE_KEY = new RegExp(`-([0-9a-f]{${DIGEST_HEX_CHARS}})$`);

/** The digest of bytes (the start of their SHA-256; not the value hash, `valueHash`). */
export function digestBytes(bytes: Uint8Array): string {
  return hexOf(sha256(bytes), 0, DIGEST_HEX_CHARS / 2);
}

/** The digest of a text's UTF-8 bytes: a function's id is the digest of its source. */
export function digestString(text: string): string {
  return hexOf(sha256(utf8.encode(text)), 0, DIGEST_HEX_CHARS / 2);
}

/**
 * A task function's id: the digest of its source, or for an export of an uploaded module, of the
 * module's name and version and the export's name (`source` is then the export's name). The
 * scheduler recomputes it, so no one can plant another source under an id others use.
 */
export function functionId(source: string, module?: { name: string; hash: string }): string {
  return digestString(module ? `module:${module.name}@${module.hash}#${source}` : source);
}

/** What a pure key covers: everything in a task's spec that decides its value, where it runs, and how it may fail. */
export interface DigestedSpec {
  fn: string;
  args: Uint8Array;
  deps: readonly string[];
  retries: number;
  resources?: Readonly<Record<string, number>> | undefined;
  workers?: readonly string[] | undefined;
  allowOtherWorkers?: boolean | undefined;
  timeoutMs?: number | undefined;
  verify?: number | undefined;
}

/**
 * The digest part of a pure task's key: the function's id, the encoded arguments (futures inside
 * by key), the inputs, and the options that decide where it runs, how it may fail and how its
 * result is checked (not `priority`, which only orders a client's own tasks). Two specs with one
 * key are then the same computation under the same terms: a rival cannot put weaker terms
 * (`verify: 1` under a key submitted with `verify: 2`, a worker of its choice, a tiny timeout)
 * under another client's key.
 */
export function taskDigest(spec: DigestedSpec): string {
  const r = spec.resources;
  const terms = JSON.stringify([
    spec.deps,
    spec.retries,
    spec.verify ?? 1,
    spec.timeoutMs ?? null,
    spec.workers ?? null,
    spec.allowOtherWorkers ?? null,
    r ? Object.keys(r).sort().map((k) => [k, r[k]]) : null,
  ]);
  const h = sha256.create();
  h.update(utf8.encode(spec.fn));
  h.update(new Uint8Array([0]));
  h.update(utf8.encode(terms));
  h.update(new Uint8Array([0]));
  h.update(spec.args);
  return hexOf(h.digest(), 0, DIGEST_HEX_CHARS / 2);
}

/** The digest a key claims to be the name of, when it has the pure form `<name>-<digest>`; else undefined (a private key). */
export function claimedDigest(key: string): string | undefined {
  return PURE_KEY.exec(key)?.[1];
}
