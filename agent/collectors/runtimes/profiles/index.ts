import type { RuntimeGaugeProfile, RuntimeName, SampleIndex } from "../runtime-gauges.js";
import { tgiProfile } from "./tgi.js";
import { tritonProfile } from "./triton.js";
import { vllmProfile } from "./vllm.js";

/** Every runtime gauge profile, by runtime. */
export const RUNTIME_GAUGE_PROFILES: Readonly<Record<RuntimeName, RuntimeGaugeProfile>> = {
  vllm: vllmProfile,
  tgi: tgiProfile,
  triton: tritonProfile,
};

/** The profile whose metric names the page carries, or undefined when it is none of the runtimes'. */
export function detectProfile(page: SampleIndex): RuntimeGaugeProfile | undefined {
  return Object.values(RUNTIME_GAUGE_PROFILES).find((profile) => profile.detects(page));
}
