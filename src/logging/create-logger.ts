// One pino logger for the process: JSON lines on stdout through pino's asynchronous
// destination, so a busy access log costs a buffered write, not a syscall per line.
// pino registers an exit hook that flushes the buffer synchronously; `flush` is for
// shutdown paths that want the lines out before they return.

import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from '../config/config.ts';

export type { Logger };

export interface CreateLoggerOptions {
  readonly level: LogLevel;
  /** defaults to stdout through `pino.destination({ sync: false })`; tests pass their own stream */
  readonly destination?: DestinationStream;
}

export interface ProcessLogger {
  readonly logger: Logger;
  /** writes out whatever the asynchronous destination still buffers; never throws */
  flush(): void;
}

export function createLogger(options: CreateLoggerOptions): ProcessLogger {
  const stdout = options.destination ? undefined : pino.destination({ dest: 1, sync: false });
  const logger = pino({ level: options.level, base: { pid: process.pid } }, options.destination ?? stdout);
  return {
    logger,
    flush() {
      try {
        stdout?.flushSync();
      } catch {
        // Nothing more to do: a closed stdout (EPIPE) must not turn shutdown into a crash.
      }
    },
  };
}
