// Network namespaces that play the part of Pods.
//
// EndpointSlice validation rejects loopback (and link-local) addresses
// (https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/ ,
// "Address types"), so test backends cannot listen on 127.0.0.1 and be
// referenced from an EndpointSlice. Instead each test gets a namespace joined
// to the host by a veth pair: the host side is 10.203.X.1/24, the namespace
// side carries 10.203.X.2, .3, ... (one address per "pod"), and the host
// reaches them through the connected route. Needs root (CAP_NET_ADMIN,
// CAP_SYS_ADMIN) and `ip` from iproute2.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProcess } from './managed-process.ts';
import { trackDirectory, trackNetns, trackProcess, untrackDirectory, untrackNetns, untrackProcess } from './reaper.ts';
import { runCommand } from './run-command.ts';

export interface NetnsOptions {
  /** How many "pod" addresses to put inside the namespace. */
  readonly podCount?: number;
}

export interface StartProcessOptions {
  /** For log file names and error messages. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

const NAME_PREFIX = 'portico-e2e-';
const SUBNET_PREFIX = '10.203';
const DEFAULT_POD_COUNT = 4;
const MAX_POD_COUNT = 250;
const SUBNET_ATTEMPTS = 20;
const STOP_GRACE_MS = 5_000;

async function ip(args: readonly string[]): Promise<string> {
  return (await runCommand('ip', args)).stdout;
}

/** Fails with an actionable message when netns cannot work here at all. */
export async function checkNetnsSupport(): Promise<void> {
  try {
    await runCommand('ip', ['-V']);
  } catch (error) {
    throw new Error(
      "the 'ip' command (iproute2) is needed for e2e network namespaces; on Debian/Ubuntu: apt-get install -y iproute2",
      { cause: error },
    );
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('e2e network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN); run the e2e suite as root');
  }
}

async function pickFreeSubnet(): Promise<number> {
  const inUse = await ip(['-4', '-o', 'addr', 'show']);
  for (let attempt = 0; attempt < SUBNET_ATTEMPTS; attempt += 1) {
    const octet = randomInt(1, 255);
    if (!inUse.includes(` ${SUBNET_PREFIX}.${octet}.`)) return octet;
  }
  throw new Error(`no free ${SUBNET_PREFIX}.X.0/24 subnet found after ${SUBNET_ATTEMPTS} tries`);
}

export class Netns {
  readonly name: string;
  /** Host side of the veth pair; backends can reach the host here. */
  readonly hostAddress: string;
  /** Addresses inside the namespace, usable in EndpointSlices. */
  readonly podAddresses: readonly string[];
  /** Logs of processes started with startProcess(). */
  readonly directory: string;
  readonly #hostInterface: string;
  readonly #processes = new Set<ManagedProcess>();
  readonly #children = new Set<ChildProcess>();
  #destroyed = false;

  private constructor(init: {
    name: string;
    hostAddress: string;
    podAddresses: readonly string[];
    directory: string;
    hostInterface: string;
  }) {
    this.name = init.name;
    this.hostAddress = init.hostAddress;
    this.podAddresses = init.podAddresses;
    this.directory = init.directory;
    this.#hostInterface = init.hostInterface;
  }

  /** @internal Use createNetns(). */
  static async create(options: NetnsOptions = {}): Promise<Netns> {
    const podCount = options.podCount ?? DEFAULT_POD_COUNT;
    if (!Number.isInteger(podCount) || podCount < 1 || podCount > MAX_POD_COUNT) {
      throw new Error(`podCount must be 1..${MAX_POD_COUNT}, got ${podCount}`);
    }
    await checkNetnsSupport();
    const id = randomBytes(3).toString('hex');
    const name = `${NAME_PREFIX}${id}`;
    // Interface names are limited to 15 bytes (IFNAMSIZ - 1).
    const hostInterface = `pe${id}h`;
    const innerInterface = `pe${id}n`;
    const directory = await mkdtemp(join(tmpdir(), `${name}-`));
    trackDirectory(directory);

    let createdNetns = false;
    try {
      const octet = await pickFreeSubnet();
      const hostAddress = `${SUBNET_PREFIX}.${octet}.1`;
      const podAddresses = Array.from({ length: podCount }, (_, index) => `${SUBNET_PREFIX}.${octet}.${index + 2}`);

      await ip(['netns', 'add', name]);
      createdNetns = true;
      trackNetns(name);
      await ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', innerInterface]);
      await ip(['link', 'set', innerInterface, 'netns', name]);
      await ip(['addr', 'add', `${hostAddress}/24`, 'dev', hostInterface]);
      await ip(['link', 'set', hostInterface, 'up']);
      for (const address of podAddresses) {
        await ip(['-n', name, 'addr', 'add', `${address}/24`, 'dev', innerInterface]);
      }
      await ip(['-n', name, 'link', 'set', innerInterface, 'up']);
      await ip(['-n', name, 'link', 'set', 'lo', 'up']);
      // Lets backends reach host-side services (e.g. the proxy) by the host address.
      await ip(['-n', name, 'route', 'add', 'default', 'via', hostAddress]);
      return new Netns({ name, hostAddress, podAddresses, directory, hostInterface });
    } catch (error) {
      if (createdNetns) {
        await runCommand('ip', ['netns', 'delete', name], { allowFailure: true });
        untrackNetns(name);
      }
      await runCommand('ip', ['link', 'delete', hostInterface], { allowFailure: true });
      await rm(directory, { recursive: true, force: true });
      untrackDirectory(directory);
      throw error;
    }
  }

  /**
   * Spawns `command` inside the namespace (ip netns exec). The caller owns the
   * child's stdio; destroy() kills it if it is still running.
   */
  exec(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    if (this.#destroyed) throw new Error(`netns ${this.name} is destroyed`);
    const child = spawn('ip', ['netns', 'exec', this.name, command, ...args], options);
    const pid = child.pid;
    if (pid !== undefined) trackProcess(pid);
    this.#children.add(child);
    child.once('exit', () => {
      if (pid !== undefined) untrackProcess(pid);
      this.#children.delete(child);
    });
    return child;
  }

  /** Starts a long-running process inside the namespace with its output in a log file. */
  startProcess(options: StartProcessOptions): ManagedProcess {
    if (this.#destroyed) throw new Error(`netns ${this.name} is destroyed`);
    const managed = ManagedProcess.start({
      name: options.name,
      command: 'ip',
      args: ['netns', 'exec', this.name, options.command, ...options.args],
      logPath: join(this.directory, `${options.name.replaceAll(/[^\w.-]/g, '_')}.log`),
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    this.#processes.add(managed);
    void managed.exited.then(() => this.#processes.delete(managed));
    return managed;
  }

  /** Stops every process started here, deletes the namespace (and with it the veth pair). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await Promise.all([...this.#processes].map((managed) => managed.stop(STOP_GRACE_MS)));
    for (const child of this.#children) child.kill('SIGKILL');
    await runCommand('ip', ['netns', 'delete', this.name], { allowFailure: true });
    untrackNetns(this.name);
    // Normally gone with its peer; this covers a namespace deleted by hand.
    await runCommand('ip', ['link', 'delete', this.#hostInterface], { allowFailure: true });
    await rm(this.directory, { recursive: true, force: true });
    untrackDirectory(this.directory);
  }
}

export function createNetns(options: NetnsOptions = {}): Promise<Netns> {
  return Netns.create(options);
}

export interface BackendOptions {
  /** One of netns.podAddresses. */
  readonly address: string;
  readonly port?: number;
  /** Reported as "Hostname:" and in x-backend-name. */
  readonly name: string;
  readonly version?: string;
  /** Replaces the default hello text. */
  readonly body?: string;
  readonly readyTimeoutMs?: number;
}

export interface Backend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** http://address:port, reachable from the host. */
  readonly url: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

const BACKEND_SCRIPT_PATH = fileURLToPath(new URL('./backend.ts', import.meta.url));
const DEFAULT_BACKEND_PORT = 8080;
const DEFAULT_BACKEND_READY_TIMEOUT_MS = 15_000;

/** Starts backend.ts inside the namespace and waits until the host can reach it. */
export async function startBackend(netns: Netns, options: BackendOptions): Promise<Backend> {
  const port = options.port ?? DEFAULT_BACKEND_PORT;
  const args = [BACKEND_SCRIPT_PATH, '--listen', `${options.address}:${port}`, '--name', options.name];
  if (options.version !== undefined) args.push('--version', options.version);
  if (options.body !== undefined) args.push('--body', options.body);
  const managed = netns.startProcess({ name: `backend-${options.name}`, command: process.execPath, args });
  const url = `http://${options.address}:${port}`;
  try {
    await managed.waitUntilReady(
      async () => {
        const response = await fetch(`${url}/echo`, { signal: AbortSignal.timeout(2_000) });
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`GET /echo answered ${response.status}`);
      },
      {
        timeoutMs: options.readyTimeoutMs ?? DEFAULT_BACKEND_READY_TIMEOUT_MS,
        description: `${url}/echo to answer from the host`,
      },
    );
  } catch (error) {
    await managed.stop(STOP_GRACE_MS);
    throw error;
  }
  return {
    name: options.name,
    address: options.address,
    port,
    url,
    process: managed,
    stop: async () => {
      await managed.stop(STOP_GRACE_MS);
    },
  };
}
