/**
 * What a runtime page costs the agent: each case scraped over loopback by the runtime scraper in a
 * fresh process (runtime-page-child.ts), the pages served from this one, so the peak resident
 * memory measured is the scrape's alone.
 *
 * - A stock vLLM V1 page (test/fixtures/runtimes/vllm-v1.prom), the reference.
 * - A hostile vLLM page of 100,000 `model_name` values (12.7 MiB; what any GPU pod with a
 *   metrics-port annotation could serve): round time, the longest event-loop stall, the series kept,
 *   the agent's /metrics, and the peak RSS growth. Before the series limits it became 100,000 series
 *   (/metrics 11.6 MB in 2.7 s); before pages were read as they arrive it cost ~30 times its size.
 * - Peak RSS growth per page size: hostile pages from 0.1 to 16.5 MiB.
 * - The largest pages real deployments write (runtime-page-shapes.ts): vLLM with 32 and 64
 *   data-parallel engines, Triton with 1,000 models on 4 GPUs.
 * - Eight hostile pages scraped at once (the bytes-in-flight budget shared by the scrapes).
 *
 * Run: `BENCH_ONLY=runtimes npm run bench` (or `npx tsc -p tsconfig.json && node dist/test/bench/runtime-page-bench.js`).
 * The load average is printed beside the rows: stalls under an oversubscribed machine include the
 * time the process waited for a core.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { loadavg } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { projectPath } from "../../common/paths.js";
import type { ChildResult } from "./runtime-page-child.js";
import { hostileVllmPage, tritonManyModelsPage, vllmDataParallelPage } from "./runtime-page-shapes.js";
import type { BenchRow } from "./table.js";
import { MIB } from "../../common/units.js";

const HOSTILE_MODELS = 100_000;
/** Hostile pages by model count, 0.1 to 16.5 MiB. */
const SIZES = [1_000, 10_000, 50_000, 100_000, 130_000];
const CONCURRENT = 8;

/** The child script; BENCH_RUNTIME_CHILD measures another build's (its own runtime-page-child.js) on the same pages. */
const CHILD = process.env["BENCH_RUNTIME_CHILD"] ?? fileURLToPath(new URL("./runtime-page-child.js", import.meta.url));

interface Pages {
  readonly url: (name: string) => string;
  close(): Promise<void>;
}

/** Serves every page by name from this process, each encoded once. */
async function servePages(pages: ReadonlyMap<string, string>): Promise<Pages> {
  const bodies = new Map([...pages].map(([name, text]) => [`/${name}`, Buffer.from(text)]));
  const server = createServer((request, response) => {
    const body = bodies.get(new URL(request.url ?? "/", "http://localhost").pathname);
    if (body === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4", "content-length": body.length });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the page server has no port");
  const { port } = address;
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Runs one measurement in a fresh process. */
function measure(urls: readonly string[], rounds: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", CHILD, JSON.stringify({ urls, rounds })], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`runtime-page-child exited with ${code}`));
      const result: ChildResult = JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
      const errors = result.rounds.flatMap((round) => round.errors);
      if (errors.length > 0) return reject(new Error(`scrape failed: ${errors.join("; ")}`));
      resolve(result);
    });
  });
}

const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const ms = (value: number): string => `${value.toFixed(value < 10 ? 1 : 0)} ms`;

type Round = ChildResult["rounds"][number];

/**
 * The event loop's stalls over some rounds: the longest in wall time, the process's CPU time within
 * it (all threads, so GC helpers count; a loaded machine's wait for a core does not), and the 99th
 * percentile delay.
 */
function stall(rounds: readonly Round[]): string {
  const wall = Math.max(...rounds.map((r) => r.maxStallMs));
  const busy = Math.max(...rounds.map((r) => r.maxBusyStallMs));
  const p99 = Math.max(...rounds.map((r) => r.p99DelayMs));
  return `${ms(wall)} (${ms(busy)} on CPU, p99 ${ms(p99)})`;
}

/** A measurement's row, or a row saying why it failed (a build that parses pages whole may run out of memory). */
async function row(name: string, run: () => Promise<Omit<BenchRow, "name">>): Promise<BenchRow> {
  try {
    return { name, ...(await run()) };
  } catch (err) {
    return { name, value: `failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Rows for `npm run bench`; the load average is printed beside them (a shared machine). */
export async function benchRuntimePages(): Promise<BenchRow[]> {
  const pages = new Map<string, string>([
    ["stock", readFileSync(projectPath("test/fixtures/runtimes/vllm-v1.prom"), "utf8")],
  ]);
  for (const models of SIZES) pages.set(`hostile-${models}`, hostileVllmPage(models));
  pages.set("vllm-dp32", vllmDataParallelPage(32));
  pages.set("vllm-dp64", vllmDataParallelPage(64));
  pages.set("triton-1000x4", tritonManyModelsPage(1000, 4));
  const bytes = (name: string): number => Buffer.byteLength(pages.get(name) ?? "");
  const server = await servePages(pages);
  const rows: BenchRow[] = [
    {
      name: "load average (1, 5, 15 min) before measuring",
      value: loadavg()
        .map((value) => value.toFixed(2))
        .join(" "),
    },
  ];
  try {
    rows.push(
      await row(`stock vLLM V1 page (${kib(bytes("stock"))}): scrape round (third)`, async () => {
        const stock = await measure([server.url("stock")], 3);
        return { value: ms(stock.rounds.at(-1)?.roundMs ?? NaN) };
      }),
    );

    const hostileName = `hostile-${HOSTILE_MODELS}`;
    try {
      const hostile = await measure([server.url(hostileName)], 2);
      const [first, second] = hostile.rounds;
      const busy = Math.max(...hostile.rounds.map((r) => r.maxBusyStallMs));
      rows.push(
        {
          name: `page of ${HOSTILE_MODELS.toLocaleString("en")} model_name values (${mib(bytes(hostileName))}): scrape round (first, second)`,
          value: `${ms(first?.roundMs ?? NaN)}, ${ms(second?.roundMs ?? NaN)}`,
        },
        {
          name: "  longest event-loop stall during those rounds (wall; on CPU)",
          value: stall(hostile.rounds),
          target: "on CPU < 20 ms (was 1.2–1.7 s)",
          isMet: busy < 20,
        },
        {
          name: "  peak RSS growth of a fresh agent over both rounds",
          value: mib((second?.peakRssGrowthMiB ?? NaN) * MIB),
          target: "< 32 MiB (was ~140 MiB)",
          isMet: (second?.peakRssGrowthMiB ?? Infinity) < 32,
        },
        {
          name: "  series held after the round",
          value: String(hostile.series),
          target: "≤ 64 (maxSeriesPerTarget)",
          isMet: hostile.series <= 64,
        },
        {
          name: "  agent /metrics size",
          value: kib(hostile.metricsBytes),
          target: "< 64 KiB (was 11.6 MB)",
          isMet: hostile.metricsBytes < 64 * 1024,
        },
        {
          name: "  agent /metrics render time",
          value: ms(hostile.renderMs),
          target: "< 50 ms (was 2.7 s)",
          isMet: hostile.renderMs < 50,
        },
      );
    } catch (err) {
      rows.push({
        name: `page of ${HOSTILE_MODELS.toLocaleString("en")} model_name values (${mib(bytes(hostileName))})`,
        value: `failed: ${err instanceof Error ? err.message : String(err)}`,
      });
    }

    for (const models of SIZES) {
      const name = `hostile-${models}`;
      rows.push(
        await row(
          `hostile page of ${models.toLocaleString("en")} models (${mib(bytes(name))}): peak RSS growth; longest stall; round`,
          async () => {
            const result = await measure([server.url(name)], 1);
            const round = result.rounds[0];
            return {
              value: `${mib((round?.peakRssGrowthMiB ?? NaN) * MIB)}; ${stall(result.rounds)}; ${ms(round?.roundMs ?? NaN)}`,
            };
          },
        ),
      );
    }

    for (const [name, what] of [
      ["vllm-dp32", "vLLM, 32 data-parallel engines"],
      ["vllm-dp64", "vLLM, 64 data-parallel engines"],
      ["triton-1000x4", "Triton, 1,000 models on 4 GPUs"],
    ] as const) {
      rows.push(
        await row(`${what} (${mib(bytes(name))}): peak RSS growth; longest stall; second round`, async () => {
          const result = await measure([server.url(name)], 2);
          const round = result.rounds[1];
          return {
            value: `${mib((round?.peakRssGrowthMiB ?? NaN) * MIB)}; ${stall(result.rounds)}; ${ms(round?.roundMs ?? NaN)}`,
          };
        }),
      );
    }

    rows.push(
      await row(
        `${CONCURRENT} hostile pages of ${mib(bytes(hostileName))} at once: peak RSS growth; longest stall; round`,
        async () => {
          const together = await measure(
            Array.from({ length: CONCURRENT }, (_, i) => `${server.url(hostileName)}?pod=${i}`),
            1,
          );
          const round = together.rounds[0];
          return {
            value: `${mib((round?.peakRssGrowthMiB ?? NaN) * MIB)}; ${stall(together.rounds)}; ${ms(round?.roundMs ?? NaN)}`,
            target: "growth < 64 MiB",
            isMet: (round?.peakRssGrowthMiB ?? Infinity) < 64,
          };
        },
      ),
    );
  } finally {
    await server.close();
  }
  rows.push({
    name: "load average (1, 5, 15 min) after measuring",
    value: loadavg()
      .map((value) => value.toFixed(2))
      .join(" "),
  });
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { renderTable } = await import("./table.js");
  process.stdout.write(renderTable("Runtime pages", await benchRuntimePages()));
}
