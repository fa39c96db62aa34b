// One pino logger for the process: JSON lines on stdout through pino's asynchronous
// destination, so a busy access log costs a buffered write, not a syscall per line.
// Lines are written out in batches of at least BATCH_BYTES (as nginx's `access_log ...
// buffer=`): without a floor, each write started as soon as the previous one finished, a
// few lines at a time, and the writes cost the proxy 17-27% of its requests per CPU-second
// with the access log on (bench/README.md). A quiet process's lines wait at most
// FLUSH_INTERVAL_MS. pino registers an exit hook that flushes the buffer synchronously;
// `flush` is for shutdown paths (the drain) that want the lines out before they return.

import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from '../config/config.ts';

export type { Logger };

export interface CreateLoggerOptions {
  readonly level: LogLevel;
  /** defaults to stdout through `pino.destination({ sync: false, minLength })`; tests pass their own stream */
  readonly destination?: DestinationStream;
}

export interface ProcessLogger {
  readonly logger: Logger;
  /** writes out whatever the asynchronous destination still buffers; never throws */
  flush(): void;
}

/** Below sonic-boom's largest single write (16 KiB), which its minLength must stay under. */
const BATCH_BYTES = 8 * 1024;
const FLUSH_INTERVAL_MS = 100;

export function createLogger(options: CreateLoggerOptions): ProcessLogger {
  const stdout = options.destination
    ? undefined
    : pino.destination({ dest: 1, sync: false, minLength: BATCH_BYTES, periodicFlush: FLUSH_INTERVAL_MS });
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
