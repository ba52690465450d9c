import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll } from 'vitest';

/**
 * A real terminal for testing a command-line program as a person uses it: tmux runs a shell on
 * its own server socket; tests type with send-keys and read the screen with capture-pane.
 */
export class TestTerminal {
  private readonly socket: string;

  constructor(cwd: string, env: Record<string, string>) {
    this.socket = `stepwise-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const envArgs = Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
    this.tmux(
      'new-session',
      '-d',
      '-s',
      'main',
      '-x',
      '160',
      '-y',
      '48',
      '-c',
      cwd,
      ...envArgs,
      'bash --norc --noprofile',
    );
    afterAll(() => this.close());
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }

  /** Types text (literally) and, unless told otherwise, presses Enter. */
  type(text: string, enter = true): void {
    this.tmux('send-keys', '-t', 'main', '-l', text);
    if (enter) this.press('Enter');
  }

  /** Presses named keys: Enter, Down, Up, C-c… */
  press(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'main', ...keys);
  }

  /** The screen and its scrollback, a line the terminal wrapped joined back into one (-J). */
  screen(): string {
    return this.tmux('capture-pane', '-p', '-J', '-t', 'main', '-S', '-200');
  }

  clear(): void {
    this.type('clear');
    this.tmux('clear-history', '-t', 'main');
  }

  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.screen().match(pattern);
      if (match) return match;
      if (Date.now() > deadline)
        throw new Error(`the terminal never showed ${pattern}; it shows:\n${this.screen()}`);
      await sleep(100);
    }
  }

  close(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
  }
}
