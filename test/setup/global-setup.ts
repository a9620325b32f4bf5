import { buildFakeNvml } from "./build-fake-nvml.js";

/** Builds the fake NVML libraries once before the test files run. */
export default async function setup(): Promise<void> {
  await buildFakeNvml("test/artifacts/fake-nvml");
}
