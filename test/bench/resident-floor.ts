/**
 * What any Node process resident on a GPU node costs before the agent does anything: a Node process
 * that only waits, one with an idle worker thread beside it (the agent samples NVML on one), one that
 * has imported the npm packages the agent loads, and one that has imported the agent's own modules
 * (which import those packages) without starting anything. Each runs in its own process and is read
 * from outside after it has settled, as the agent is (VmRSS of /proc/<pid>/status).
 */
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import { projectPath } from "../../common/paths.js";
import { residentMiB } from "./proc-stat.js";

/**
 * The packages a running agent loads (listed by a module-load hook on an agent at its defaults:
 * OTLP over HTTP and gRPC, pods, host metrics, JSON logs; pino-pretty loads only for readable logs).
 */
export const AGENT_PACKAGES = [
  "commander",
  "zod",
  "pino",
  "prom-client",
  "@grpc/grpc-js",
  "@opentelemetry/api",
  "koffi",
] as const;

/**
 * One floor: what the process imports, whether it starts an idle worker thread, and whether it takes
 * the agent's heap settings first (agent/heap-settings.ts) as `inferwatch agent` does.
 */
export interface FloorSpec {
  readonly imports: readonly string[];
  readonly worker: boolean;
  readonly heapSettings?: boolean;
}

/** The child's program: heap settings, imports, optionally a worker that waits; it settles, then says so. */
const CHILD = `
const spec = JSON.parse(process.env.FLOOR_SPEC);
if (spec.heapSettings) (await import(spec.heapSettingsModule)).applyAgentHeapSettings();
for (const specifier of spec.imports) await import(specifier);
if (spec.worker) {
  const { Worker } = await import("node:worker_threads");
  const worker = new Worker("setInterval(() => {}, 1 << 30);", { eval: true });
  await new Promise((resolve) => worker.once("online", resolve));
}
setTimeout(() => process.stdout.write("settled\\n"), 3000);
setInterval(() => {}, 1 << 30);
`;

/** RSS of a process that does only what `spec` says, MiB (total, anonymous, file-backed). */
export async function residentFloor(spec: FloorSpec): Promise<{ rss: number; anon: number; file: number }> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
    cwd: projectPath("."),
    env: {
      PATH: process.env["PATH"] ?? "",
      FLOOR_SPEC: JSON.stringify({
        ...spec,
        heapSettingsModule: pathToFileURL(projectPath("dist/agent/heap-settings.js")).href,
      }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        if (chunk.includes("settled")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`floor process exited with ${code}: ${stderr}`)));
    });
    return await residentMiB(child.pid as number);
  } finally {
    child.kill("SIGKILL");
  }
}

/** The agent's own modules, as `import()` specifiers (the command that starts it). */
export function agentModules(): string[] {
  return [pathToFileURL(projectPath("dist/cli/run-agent.js")).href];
}
