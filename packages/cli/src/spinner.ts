// A spinner on stderr for a wait before output starts (loading a model, compiling pipelines, prefill). Only on a
// terminal, and only once the wait has lasted a second: quick runs, pipes, logs and tests never see it.
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const DELAY_MS = 1000;
const FRAME_MS = 100;
// ESC 7 saves the cursor, ESC 8 returns to it, ESC [K clears to the end of the line: the spinner sits after what
// the line already holds (the prompt, when generate echoes it) and leaves no trace when it stops
const SAVE = '\x1b7';
const RESTORE_AND_CLEAR = '\x1b8\x1b[K';

export interface Spinner {
  /** Erase the spinner (if it showed); safe to call more than once. */
  stop(): void;
}

/** The spinner showing now: one at a time, and main() erases it before printing an error. */
let active: Spinner | undefined;

export function stopSpinner(): void {
  active?.stop();
}

export function spinner(stream: NodeJS.WriteStream, label: string): Spinner {
  active?.stop();
  if (!stream.isTTY) return { stop() {} };
  let frame = 0;
  let shown = false;
  let ticker: NodeJS.Timeout | undefined;
  const draw = () => {
    stream.write(`${shown ? RESTORE_AND_CLEAR : SAVE}${FRAMES[frame++ % FRAMES.length]} ${label}`);
    shown = true;
  };
  // unref: a spinner never keeps the process alive
  const delay = setTimeout(() => {
    draw();
    ticker = setInterval(draw, FRAME_MS).unref();
  }, DELAY_MS).unref();
  active = {
    stop() {
      clearTimeout(delay);
      clearInterval(ticker);
      if (shown) stream.write(RESTORE_AND_CLEAR);
      shown = false;
    },
  };
  return active;
}

export interface ProgressLine extends Spinner {
  /** Show `text` in place of what the line showed. */
  update(text: string): void;
}

/**
 * One line of progress on `stream` for a long run (`wgpt perplexity`), redrawn in place at most every FRAME_MS;
 * only on a terminal. Like a spinner it is erased by stop() and before an error is printed.
 */
export function progressLine(stream: NodeJS.WriteStream): ProgressLine {
  active?.stop();
  if (!stream.isTTY) return { update() {}, stop() {} };
  let shown = false;
  let drawnAt = 0;
  const line: ProgressLine = {
    update(text) {
      const now = Date.now();
      if (now - drawnAt < FRAME_MS) return;
      drawnAt = now;
      stream.write(`\r${text}\x1b[K`);
      shown = true;
    },
    stop() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
  active = line;
  return line;
}
