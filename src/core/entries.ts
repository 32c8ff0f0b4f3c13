import type { DecodedEntry, ValueCodec } from './codec.js';
import type { EntryMeta } from './envelope.js';
import { ConfigError } from './errors.js';

/**
 * Values with their envelope (grace, tags) through whichever codec the cache uses. A codec
 * without envelope support (a `compat` codec writing another library's bytes) reads every
 * entry as envelope-less and refuses to write one.
 */

/** Can this codec store grace and tags? */
export function carriesEnvelope(codec: ValueCodec): boolean {
  return codec.encodeEntry !== undefined && codec.decodeEntry !== undefined;
}

/** ConfigError when `what` needs an envelope the codec cannot write. */
export function assertEnvelopeSupport(codec: ValueCodec, what: string): void {
  if (!carriesEnvelope(codec)) {
    throw new ConfigError(
      `${what} need sentinel-cache's own value format; a cache with the 'compat' option writes another library's bytes, which have no room for them`,
    );
  }
}

export function decodeEntry(codec: ValueCodec, raw: Buffer, key: string): DecodedEntry {
  return codec.decodeEntry !== undefined
    ? codec.decodeEntry(raw, key)
    : { value: codec.decode(raw, key), meta: undefined };
}

/**
 * A value as a command argument (ValueCodec.encodeArg when the codec has it): the bytes encode()
 * makes, possibly as a string of exactly those UTF-8 bytes.
 */
export function encodeArg(codec: ValueCodec, value: unknown): Buffer | string {
  return codec.encodeArg !== undefined ? codec.encodeArg(value) : codec.encode(value);
}

/**
 * Plain bytes without `meta` (as a command argument: encodeArg); with it, the envelope
 * (ConfigError if the codec has none).
 */
export function encodeEntry(codec: ValueCodec, value: unknown, meta: EntryMeta | undefined): Buffer | string {
  if (meta === undefined) return encodeArg(codec, value);
  if (codec.encodeEntry === undefined) {
    assertEnvelopeSupport(codec, "Options 'grace' and 'tags'");
  }
  return (codec.encodeEntry as NonNullable<ValueCodec['encodeEntry']>)(value, meta);
}
