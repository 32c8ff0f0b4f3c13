/**
 * Buffer, every TypedArray and DataView: the views over binary data that both msgpackr and
 * v8's structured clone reproduce as they are. (ArrayBuffer itself is listed by each user.)
 */
export const BINARY_VIEW_CLASSES = [
  Buffer,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
] as const;
