/**
 * Write coalescing (src/routers/write-coalescing.ts): commands issued in one tick leave in one
 * socket write, and what it needs from ioredis is checked.
 */
import { describe, expect, it } from 'vitest';
import { isCorkable } from '../../src/core/ioredis-internals.js';
import {
  coalesceUntilImmediate,
  coalesceWrites,
  IMMEDIATE_WRITES,
} from '../../src/routers/write-coalescing.js';

describe('write coalescing relies on two ioredis internals, checked', () => {
  it('recognises a corkable stream', () => {
    expect(isCorkable({ cork() {}, uncork() {}, writableCorked: 0 })).toBe(true);
    expect(isCorkable({ cork() {}, writableCorked: 0 })).toBe(false);
    expect(isCorkable(undefined)).toBe(false);
  });

  function recordingStream(calls: string[]) {
    return {
      writableCorked: 0,
      cork() {
        calls.push('cork');
        this.writableCorked++;
      },
      uncork() {
        calls.push('uncork');
        this.writableCorked--;
      },
    };
  }

  it('corks a busy ready client and uncorks on the next tick', async () => {
    const calls: string[] = [];
    const client = {
      commandQueue: { length: IMMEDIATE_WRITES },
      stream: recordingStream(calls),
      status: 'ready',
    };
    coalesceWrites(client as never);
    coalesceWrites(client as never); // same tick: corked once
    expect(calls).toEqual(['cork']);
    await new Promise((r) => process.nextTick(r));
    expect(calls).toEqual(['cork', 'uncork']);
  });

  it('fewer than IMMEDIATE_WRITES commands awaiting replies: the command is written at once (no cork)', async () => {
    const calls: string[] = [];
    for (const length of [0, 1, IMMEDIATE_WRITES - 1]) {
      coalesceWrites({ commandQueue: { length }, stream: recordingStream(calls), status: 'ready' } as never);
    }
    await new Promise((r) => process.nextTick(r));
    expect(calls).toEqual([]);
  });

  it('immediateWrites 1 (routers.cluster): corks as soon as one command awaits a reply', async () => {
    const calls: string[] = [];
    coalesceWrites(
      { commandQueue: { length: 0 }, stream: recordingStream(calls), status: 'ready' } as never,
      1,
    );
    expect(calls).toEqual([]);
    coalesceWrites(
      { commandQueue: { length: 1 }, stream: recordingStream(calls), status: 'ready' } as never,
      1,
    );
    expect(calls).toEqual(['cork']);
    await new Promise((r) => process.nextTick(r));
    expect(calls).toEqual(['cork', 'uncork']);
  });

  it('coalesceUntilImmediate: corks even an idle connection, once, and uncorks in the setImmediate phase (not at nextTick)', async () => {
    const calls: string[] = [];
    const client = { commandQueue: { length: 0 }, stream: recordingStream(calls), status: 'ready' };
    coalesceUntilImmediate(client as never);
    coalesceUntilImmediate(client as never); // same iteration: corked once
    await new Promise((r) => process.nextTick(r));
    expect(calls).toEqual(['cork']);
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['cork', 'uncork']);
    // Not ready (before connect): nothing to cork.
    coalesceUntilImmediate({ ...client, status: 'connecting' } as never);
    expect(calls).toEqual(['cork', 'uncork']);
  });

  it('a client without the expected shape keeps working, uncoalesced, with one warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      expect(() => coalesceWrites({ status: 'ready' } as never)).not.toThrow();
      expect(() =>
        coalesceWrites({ commandQueue: { length: IMMEDIATE_WRITES }, status: 'ready', stream: {} } as never),
      ).not.toThrow();
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.includes('write coalescing is off'))).toHaveLength(1);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('the installed ioredis has the shape', async () => {
    const { Redis } = await import('ioredis');
    const client = new Redis({ lazyConnect: true });
    try {
      expect(typeof client.commandQueue.length).toBe('number');
    } finally {
      client.disconnect();
    }
  });
});
