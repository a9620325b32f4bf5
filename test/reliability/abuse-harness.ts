/**
 * The abuse suite's setting (issue: hardening): the real agent process configured as deploy/
 * configures it (bearer tokens on OTLP ingest; TLS is left out here because it changes nothing
 * the floods reach, and test/common/auth covers it), a control HTTP server in a process of its own
 * that does nothing, and a prober that asks both for `/healthz` every 20 ms while the agent is
 * flooded. The control's slowest answer is what the machine's scheduler alone costs a Node process
 * (the soak's control, test/reliability/soak-bounds.ts); the agent's resident memory is read from
 * /proc, peak included (VmHWM).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startAgentProcess, type AgentProcess } from "../fixtures/agent-process.js";

/** The ingest token the secured agent accepts. */
export const INGEST_TOKEN = "abuse-suite-ingest-token-0123456789";
/** A well-formed token the agent does not know. */
export const WRONG_TOKEN = "abuse-suite-wrong-token-9876543210";

/** The agent DaemonSet's memory limit (deploy/base/agent-daemonset.yaml). */
export const DAEMONSET_MEMORY_LIMIT_MIB = 256;

/** Resident memory of a process now and at its peak, MiB. */
export async function rssOf(pid: number): Promise<{ readonly nowMiB: number; readonly peakMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) / 1024;
  return { nowMiB: field("VmRSS"), peakMiB: field("VmHWM") };
}

/** The agent with ingest tokens on, and the token file's directory (removed by stop()). */
export interface SecuredAgent {
  readonly agent: AgentProcess;
  readonly pid: number;
  stop(): Promise<number | null>;
}

/** Starts the agent with a token file holding {@link INGEST_TOKEN}; `args` are added to its command line. */
export async function startSecuredAgent(args: readonly string[] = []): Promise<SecuredAgent> {
  const dir = await mkdtemp(join(tmpdir(), "inferwatch-abuse-"));
  const tokenFile = join(dir, "tokens");
  await writeFile(tokenFile, `ingest:vllm:${INGEST_TOKEN}\nviewer:grafana:abuse-suite-viewer-token-000000\n`);
  const agent = await startAgentProcess([
    "--nvml-library",
    "/nonexistent/libnvidia-ml.so.1",
    "--pods",
    "false",
    "--host-metrics",
    "false",
    "--auth-token-file",
    tokenFile,
    ...args,
  ]);
  return {
    agent,
    pid: agent.child.pid as number,
    async stop() {
      const code = await agent.stop();
      await rm(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** A process serving `/healthz` and nothing else: the control beside the agent. */
export interface ControlServer {
  readonly url: string;
  stop(): Promise<void>;
}

const CONTROL_SOURCE = `
const http = require("node:http");
const server = http.createServer((req, res) => { res.writeHead(200, { "content-type": "text/plain" }); res.end("ok\\n"); });
server.listen(0, "127.0.0.1", () => process.stdout.write(String(server.address().port) + "\\n"));
`;

export async function startControlServer(): Promise<ControlServer> {
  const child: ChildProcess = spawn(process.execPath, ["-e", CONTROL_SOURCE], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      if (out.includes("\n")) resolve(Number(out.trim()));
    });
    child.once("exit", (code) => reject(new Error(`control server exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** What the prober saw of one target. */
export interface ProbeResult {
  /** Probes sent. */
  readonly probes: number;
  /** Slowest answer, ms (a probe that got no 200 within the give-up time counts as that time). */
  readonly maxMs: number;
  /** Probes that did not get a 200. */
  readonly failures: number;
}

/** Probes each URL's `/healthz` every `everyMs` until stop() (each target on its own keep-alive connection). */
export function probeHealth(
  urls: readonly string[],
  everyMs = 20,
  giveUpMs = 10_000,
): { stop(): Promise<ProbeResult[]> } {
  let isStopped = false;
  const loops = urls.map(async (url) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let probes = 0;
    let maxMs = 0;
    let failures = 0;
    try {
      while (!isStopped) {
        const started = performance.now();
        const status = await get(agent, `${url}/healthz`, giveUpMs);
        const tookMs = performance.now() - started;
        probes++;
        maxMs = Math.max(maxMs, tookMs);
        if (status !== 200) failures++;
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    } finally {
      agent.destroy();
    }
    return { probes, maxMs, failures };
  });
  return {
    async stop() {
      isStopped = true;
      return Promise.all(loops);
    },
  };
}

function get(agent: Agent, url: string, giveUpMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent, timeout: giveUpMs }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
      response.on("error", () => resolve(0));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end();
  });
}

/** Mean 1-minute load average per core now (above 1: the cores are oversubscribed). */
export function loadPerCore(): number {
  return (loadavg()[0] ?? 0) / availableParallelism();
}
