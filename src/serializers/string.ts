import { isUtf8 } from 'node:buffer';
import type { Serializer } from '../core/formats.js';
import { describe, Refusal, toSerializationError } from './refusal.js';

export const STRING_ID = 4;

/** First payload byte: which of the two kinds the rest is. */
const TEXT = 0x00;
const BYTES = 0x01;

/**
 * Strings and Buffers as they are, for values that already are text or bytes (HTML
 * fragments, pre-rendered JSON, images). Payload: one kind byte (0x00 UTF-8 text, 0x01 raw
 * bytes) then the data, so a string reads back as a string and a Buffer as a Buffer.
 *
 * Refuses everything else (SerializationError): other types, a Uint8Array that is not a
 * Buffer (it would read back as a Buffer) and strings with lone surrogates (UTF-8 cannot
 * carry them). Safe integers never reach a serializer: the codec stores them as decimals.
 */
export function string(): Serializer {
  return {
    name: 'string',
    id: STRING_ID,
    serialize(value) {
      if (typeof value === 'string') {
        if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) {
          throw toSerializationError(
            'string',
            new Refusal('a string with a lone surrogate (UTF-8 cannot carry it)'),
          );
        }
        const out = Buffer.allocUnsafe(1 + Buffer.byteLength(value, 'utf8'));
        out[0] = TEXT;
        out.write(value, 1, 'utf8');
        return out;
      }
      if (Buffer.isBuffer(value)) {
        const out = Buffer.allocUnsafe(1 + value.length);
        out[0] = BYTES;
        value.copy(out, 1);
        return out;
      }
      throw toSerializationError(
        'string',
        new Refusal(`${describe(value)} (it stores only strings and Buffers; use json, msgpack or v8)`),
      );
    },
    deserialize(bytes) {
      const kind = bytes[0];
      const data = bytes.subarray(1);
      if (kind === TEXT) {
        if (!isUtf8(data)) throw new Error('string payload is not valid UTF-8');
        return data.toString('utf8');
      }
      if (kind === BYTES) return Buffer.from(data); // a copy: never alias the reply buffer
      throw new Error(kind === undefined ? 'empty string payload' : `unknown string payload kind ${kind}`);
    },
  };
}
