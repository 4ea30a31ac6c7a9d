// The CLI's spinner: on a terminal, after a second of waiting, erased without a trace; never on a pipe.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { spinner, stopSpinner } from '../../packages/cli/src/spinner.ts';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (text: string) => writes.push(text) } as unknown as NodeJS.WriteStream };
}

describe('spinner', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('shows nothing for a wait under a second', () => {
    const { writes, stream } = fakeStream(true);
    const s = spinner(stream, 'prefill');
    vi.advanceTimersByTime(999);
    s.stop();
    vi.advanceTimersByTime(5000);
    expect(writes).toEqual([]);
  });

  it('after a second, draws frames after the saved cursor and erases them when stopped', () => {
    const { writes, stream } = fakeStream(true);
    const s = spinner(stream, 'loading the model');
    vi.advanceTimersByTime(1000);
    expect(writes).toEqual(['\x1b7⠋ loading the model']);
    vi.advanceTimersByTime(250);
    expect(writes.slice(1)).toEqual(['\x1b8\x1b[K⠙ loading the model', '\x1b8\x1b[K⠹ loading the model']);
    s.stop();
    s.stop();
    vi.advanceTimersByTime(5000);
    expect(writes.at(-1)).toBe('\x1b8\x1b[K');
    expect(writes).toHaveLength(4);
  });

  it('never writes when the stream is not a terminal', () => {
    const { writes, stream } = fakeStream(false);
    spinner(stream, 'prefill');
    vi.advanceTimersByTime(10_000);
    stopSpinner();
    expect(writes).toEqual([]);
  });

  it('stopSpinner erases the one showing (before an error message)', () => {
    const { writes, stream } = fakeStream(true);
    spinner(stream, 'prefill');
    vi.advanceTimersByTime(1000);
    stopSpinner();
    expect(writes).toEqual(['\x1b7⠋ prefill', '\x1b8\x1b[K']);
  });
});
