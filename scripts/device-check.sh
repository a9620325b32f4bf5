#!/usr/bin/env bash
# The agent against a real NVML library for a while, with a report a person can read:
# NVML and driver identity (and which field numbering the agent chose for it), each GPU's GPM
# support and activity beside utilization.gpu, MIG devices, the sampler's timings and CPU cost,
# every field the agent disabled and why, the errors it met, and the GPU part of /metrics.
#
#   scripts/device-check.sh [nvml-library] [seconds]
#
# nvml-library defaults to $INFERWATCH_NVML_LIBRARY or libnvidia-ml.so.1 (the driver's, found by
# the dynamic loader); seconds defaults to 30. Against the fake library of the tests:
#   FAKE_NVML_SCENARIO=scenario.txt scripts/device-check.sh test/artifacts/fake-nvml/libnvidia-ml.so.1 5
# Exits 1 when NVML was not up at the end, 2 when the agent did not start.
set -euo pipefail

LIBRARY="${1:-${INFERWATCH_NVML_LIBRARY:-libnvidia-ml.so.1}}"
DURATION="${2:-30}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ ! -f dist/cli/main.js ]]; then
  npm run build --silent
fi

WORK="$(mktemp -d)"
AGENT_PID=""
cleanup() {
  if [[ -n "$AGENT_PID" ]] && kill -0 "$AGENT_PID" 2>/dev/null; then
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$AGENT_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

node dist/cli/main.js agent \
  --nvml-library "$LIBRARY" --interval 1s --log-level debug \
  --metrics-addr 127.0.0.1:0 --otlp-http-addr 127.0.0.1:0 --otlp-grpc-addr 127.0.0.1:0 \
  --pods false --host-metrics false >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!

# The report: scrapes /metrics once a second for DURATION seconds, reads the agent's CPU time from
# /proc, then prints the sections. Node (already needed for the agent) parses; no curl or jq needed.
node --input-type=module - "$WORK/agent.log" "$AGENT_PID" "$DURATION" "$LIBRARY" "$(getconf CLK_TCK 2>/dev/null || echo 100)" <<'REPORT'
import { readFileSync } from "node:fs";
const [logFile, pidText, durationText, library, ticksText] = process.argv.slice(2);
const ticksPerSecond = Number(ticksText) || 100;
const pid = Number(pidText);
const durationMs = Number(durationText) * 1000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const logs = () => readFileSync(logFile, "utf8").split("\n").filter((line) => line.startsWith("{")).map((line) => { try { return JSON.parse(line); } catch { return {}; } });
/** utime + stime of the agent, seconds (fields 14 and 15 of /proc/<pid>/stat, in clock ticks: getconf CLK_TCK). */
function cpuSeconds() {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch { return undefined; }
}
function parse(text) {
  const series = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    series.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return series;
}
const pick = (series, name, labels = {}) => series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
const one = (series, name, labels) => pick(series, name, labels)[0]?.value;
const pct = (v) => (v === undefined ? "-" : `${(v * 100).toFixed(1)}%`);
const quantile = (values, q) => { const s = [...values].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : undefined; };

let address;
for (let i = 0; i < 150 && !address; i++) {
  address = logs().find((l) => l.msg === "listening" && l.server === "metrics")?.address;
  if (!address) {
    try { process.kill(pid, 0); } catch { console.error(readFileSync(logFile, "utf8")); process.exit(2); }
    await sleep(100);
  }
}
if (!address) { console.error("the agent did not start listening:\n" + readFileSync(logFile, "utf8")); process.exit(2); }
const url = `http://${address}/metrics`;
const scrape = async () => parse(await (await fetch(url)).text());

const started = Date.now();
const cpuStart = cpuSeconds();
const durations = [];
let lastTimestamp;
let text = "";
while (Date.now() - started < durationMs) {
  await sleep(1000);
  text = await (await fetch(url)).text();
  const series = parse(text);
  const stamp = one(series, "inferwatch_agent_sample_timestamp_seconds", { collector: "gpu" });
  const duration = one(series, "inferwatch_agent_collector_duration_seconds", { collector: "gpu" });
  if (stamp !== undefined && stamp !== lastTimestamp && duration !== undefined) durations.push(duration * 1000);
  lastTimestamp = stamp;
}
const cpuEnd = cpuSeconds();
const elapsed = (Date.now() - started) / 1000;
const series = await scrape();
const all = logs();
const init = all.find((l) => l.msg === "NVML initialised");

console.log(`== inferwatch device check: ${library}, ${elapsed.toFixed(0)} s ==\n`);
console.log("-- NVML");
if (init) {
  console.log(`library ${init.library}  driver ${init.driverVersion}  CUDA ${init.cudaDriverVersion}  field numbering ${init.fieldNumbering}  GPUs ${init.deviceCount}`);
  console.log(`functions the library lacks: ${(init.missingFunctions ?? []).join(", ") || "none"}`);
} else {
  console.log("NVML did not initialise:", all.filter((l) => /NVML/.test(l.msg ?? "")).map((l) => `${l.msg}: ${l.err ?? ""}`).join("\n"));
}
console.log(`inferwatch_nvml_up ${one(series, "inferwatch_nvml_up") ?? "-"}\n`);

console.log("-- GPUs (utilization.gpu is NVML's busy time; SM/tensor/DRAM are GPM activity)");
console.log(["gpu", "model", "up", "gpm", "busy", "sm", "tensor", "dram", "source", "uuid"].join("\t"));
for (const info of pick(series, "inferwatch_gpu_info")) {
  const l = { uuid: info.labels.uuid };
  const gpm = one(series, "inferwatch_gpu_gpm_supported", l);
  console.log([
    info.labels.gpu, info.labels.gpu_model, one(series, "inferwatch_gpu_up", l), gpm === undefined ? "?" : gpm === 1 ? "yes" : "no",
    pct(one(series, "inferwatch_gpu_utilization_ratio", l)), pct(one(series, "inferwatch_gpu_sm_active_ratio", l)),
    pct(one(series, "inferwatch_gpu_tensor_active_ratio", l)), pct(one(series, "inferwatch_gpu_dram_active_ratio", l)),
    one(series, "inferwatch_gpu_mig_mode", l) === 1 ? "MIG" : "", info.labels.uuid,
  ].join("\t"));
}
const migs = pick(series, "inferwatch_gpu_mig_memory_total_bytes");
if (migs.length > 0) {
  console.log("\n-- MIG devices");
  for (const m of migs) {
    const l = { mig_uuid: m.labels.mig_uuid };
    console.log(`gpu ${m.labels.gpu} gi ${m.labels.gpu_instance} ci ${m.labels.compute_instance} ${m.labels.profile}: memory ${((one(series, "inferwatch_gpu_mig_memory_used_bytes", l) ?? 0) / 2 ** 30).toFixed(1)} / ${(m.value / 2 ** 30).toFixed(1)} GiB, sm ${pct(one(series, "inferwatch_gpu_mig_sm_active_ratio", l))}, tensor ${pct(one(series, "inferwatch_gpu_mig_tensor_active_ratio", l))}`);
  }
}

console.log("\n-- Sampler");
const rounds = durations.length;
console.log(`rounds seen ${rounds}; wall time per round (collector duration) min ${quantile(durations, 0)?.toFixed(2) ?? "-"} ms, median ${quantile(durations, 0.5)?.toFixed(2) ?? "-"} ms, p95 ${quantile(durations, 0.95)?.toFixed(2) ?? "-"} ms, max ${quantile(durations, 1)?.toFixed(2) ?? "-"} ms`);
if (cpuStart !== undefined && cpuEnd !== undefined) {
  const cpu = cpuEnd - cpuStart;
  console.log(`agent CPU ${cpu.toFixed(2)} s over ${elapsed.toFixed(0)} s (${((cpu / elapsed) * 100).toFixed(2)}% of a core; scrapes and everything else included)${rounds > 0 ? `, ${((cpu / rounds) * 1000).toFixed(2)} ms per round` : ""}`);
}
console.log(`GPM samples refused with NO_PERMISSION: ${pick(series, "inferwatch_gpu_gpm_permission_errors_total").map((s) => `gpu ${s.labels.gpu} ${s.value}`).join(", ") || "none"}`);

console.log("\n-- Fields the agent stopped asking for, and why");
const disabled = all.filter((l) => l.msg === "NVML field not available on this GPU; no longer asked for");
if (disabled.length === 0) console.log("none");
for (const d of disabled) console.log(`${d.uuid} ${d.field}: ${d.reason}`);

console.log("\n-- Errors met (distinct)");
const errors = new Set(all.filter((l) => l.msg === "collector errors" && l.collector === "gpu").flatMap((l) => l.errors ?? []));
for (const l of all.filter((l) => l.level >= 40)) errors.add(`${l.msg}${l.err ? `: ${l.err}` : ""}`);
console.log(errors.size === 0 ? "none" : [...errors].join("\n"));

console.log("\n-- /metrics (GPU and NVML families)");
console.log(text.split("\n").filter((line) => /^(# (HELP|TYPE) )?inferwatch_(gpu|nvml)_/.test(line)).join("\n"));
process.exit(one(series, "inferwatch_nvml_up") === 1 ? 0 : 1);
REPORT
