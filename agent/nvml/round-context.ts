import { NvmlReturn, returnName } from "./nvml-abi.js";
import type { NvmlCalls } from "./nvml-calls.js";
import type { DriverQuirks, GpuFields, GpuMemo, ReadContext } from "./read-context.js";
import type { DisabledField, FieldGroup, GpuIdentity } from "./types.js";

/** Return codes that mean "this field will never answer here": the field is disabled for that GPU. */
const PERMANENT = new Set<number>([NvmlReturn.NOT_SUPPORTED, NvmlReturn.NO_PERMISSION, NvmlReturn.FUNCTION_NOT_FOUND]);

/** Thrown by a check that met GPU_IS_LOST: the reader marks the GPU down. */
export class GpuLostError extends Error {}

/** What a round context reads of its GPU's state, which the reader keeps. */
export interface RoundGpu {
  readonly identity: GpuIdentity;
  readonly disabled: Set<FieldGroup>;
  readonly memo: GpuMemo;
}

/**
 * One GPU's ReadContext, made once per GPU and reset at the start of each round (begin): the field
 * readers' check, retry and isDisabled are bound once instead of built as closures every round,
 * which kept a round's objects and the shapes its readers see the same from round to round.
 * `attempted` and `failed` count the round's field codes for the reader's repeated-failure rule.
 */
export class RoundContext implements ReadContext {
  handle = 0n;
  out: GpuFields = {};
  nowMs = 0;
  attempted = 0;
  failed = 0;
  private errors: string[] = [];
  private newlyDisabled: DisabledField[] = [];

  constructor(
    readonly calls: NvmlCalls,
    readonly quirks: DriverQuirks,
    private readonly gpu: () => RoundGpu,
  ) {}

  get memo(): GpuMemo {
    return this.gpu().memo;
  }

  /** Starts a round: where its fields go and where its errors and newly disabled fields are reported. */
  begin(handle: bigint, out: GpuFields, nowMs: number, errors: string[], newlyDisabled: DisabledField[]): void {
    this.handle = handle;
    this.out = out;
    this.nowMs = nowMs;
    this.errors = errors;
    this.newlyDisabled = newlyDisabled;
    this.attempted = 0;
    this.failed = 0;
  }

  readonly retry = (group: FieldGroup, rc: number): void => {
    this.attempted++;
    this.failed++;
    const { identity } = this.gpu();
    this.errors.push(`gpu ${identity.index} (${identity.uuid}) ${group}: ${returnName(rc)}`);
  };

  readonly check = (group: FieldGroup, rc: number): boolean => {
    if (rc === NvmlReturn.SUCCESS) {
      this.attempted++;
      return true;
    }
    if (rc === NvmlReturn.GPU_IS_LOST) throw new GpuLostError(returnName(rc));
    if (PERMANENT.has(rc)) {
      this.attempted++;
      const gpu = this.gpu();
      if (!gpu.disabled.has(group)) {
        gpu.disabled.add(group);
        this.newlyDisabled.push({ uuid: gpu.identity.uuid, field: group, reason: returnName(rc) });
      }
      return false;
    }
    this.retry(group, rc);
    return false;
  };

  readonly isDisabled = (group: FieldGroup): boolean => this.gpu().disabled.has(group);
}
