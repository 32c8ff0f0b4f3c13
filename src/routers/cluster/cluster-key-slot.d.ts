/** Types for cluster-key-slot (the CRC16 hash slot function ioredis itself uses); it ships none. */
declare module 'cluster-key-slot' {
  function calculateSlot(key: string | Buffer): number;
  namespace calculateSlot {
    /** The common slot of `keys`, or -1 when they do not all hash to one slot. */
    function generateMulti(keys: (string | Buffer)[]): number;
  }
  export = calculateSlot;
}
