// The bcrypt verifier's thread (src/auth/bcrypt-verifier.ts): one check at a time, so the
// proxy's event loop never runs bcrypt's deliberately slow rounds itself.

import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

interface CheckMessage {
  readonly id: number;
  readonly password: string;
  readonly hash: string;
}

parentPort?.on('message', (message: CheckMessage) => {
  let ok: boolean;
  try {
    ok = bcrypt.compareSync(message.password, message.hash);
  } catch {
    ok = false;
  }
  parentPort?.postMessage({ id: message.id, ok });
});
