import type { DecodedEntry } from '../codec.js';
import { decodeEntry } from '../entries.js';
import type { NearEntry } from '../near.js';
import type { CommandContext } from './context.js';

/**
 * A held near-cache entry with an envelope (grace, tags): it is checked on every hit (its
 * logical expiry passes, its tags may be invalidated without its own key changing), so its
 * decoded value is never kept and the caller must check it before answering.
 */
export class Enveloped {
  constructor(readonly entry: DecodedEntry) {}
}

/**
 * The value of a held entry that has one (`bytes`, its `value`): the decoded value kept with
 * it when there is one, else decoded now, and kept when that is safe. Immutable values are
 * decoded once and shared; a Buffer is decoded once too, but kept as a private copy that every
 * hit copies again; other objects are decoded per hit. Either way no caller can change what
 * another one gets. An entry with an envelope comes back as `Enveloped`.
 */
export function heldValue(ctx: CommandContext, key: string, held: NearEntry, bytes: Buffer): unknown {
  if (held.decoded !== undefined) return held.decoded;
  if (held.decodedBuffer !== undefined) return Buffer.from(held.decodedBuffer);
  const entry = decodeEntry(ctx.codec, bytes, key);
  if (entry.meta !== undefined) return new Enveloped(entry);
  const value = entry.value;
  if (value !== null && typeof value !== 'object' && typeof value !== 'function') held.decoded = value;
  else if (Buffer.isBuffer(value)) held.decodedBuffer = Buffer.from(value);
  return value;
}
