import { type Compressor, NONE_ID } from '../core/formats.js';
import { tooLarge } from './limits.js';

/** Wire id 0: the payload is stored as serialized. The codec never calls `compress` for it. */
export function none(): Compressor {
  return {
    name: 'none',
    id: NONE_ID,
    minLength: Number.POSITIVE_INFINITY,
    compress: (bytes) => bytes,
    decompress(bytes, maxBytes) {
      if (bytes.length > maxBytes) throw tooLarge('none', maxBytes, bytes.length);
      return bytes;
    },
  };
}
