import { z } from "zod";

const instant = z.number().int().nonnegative();

/**
 * What the runtimes know and the agent does not measure yet (it can come from runtime metadata:
 * vLLM/LoRAX adapter registries, the weights store). Every part is optional.
 */
export const runtimeMetadataSchema = z.strictObject({
  adapters: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        model: z.string().min(1).describe("Base model the adapter applies to."),
        lastUsedAtMs: instant.nullable().describe("Last request that used it; null when never used."),
        createdAtMs: instant
          .optional()
          .describe("When it was registered; the unused time of a never-used adapter counts from here."),
        loadedOn: z.array(z.string().min(1)).default([]).describe("Replica ids that hold it loaded now."),
      }),
    )
    .default([]),
  weights: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        model: z
          .string()
          .min(1)
          .optional()
          .describe("Model the weights serve; weights of a model with a replica in the snapshot are in use."),
        path: z.string().optional(),
        sizeBytes: z.number().int().nonnegative().optional(),
        lastLoadedAtMs: instant.nullable().describe("Last time a replica loaded them; null when never loaded."),
        createdAtMs: instant.optional(),
      }),
    )
    .default([]),
  replicaStartedAtMs: z
    .record(z.string().min(1), instant)
    .default({})
    .describe("When each replica started, by replica id."),
});
export type RuntimeMetadata = z.output<typeof runtimeMetadataSchema>;
