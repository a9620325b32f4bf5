import { describe, expect, it } from "vitest";
import { AdmissionLease, createAdmission } from "../../../agent/receivers/admission.js";

describe("admission", () => {
  it("grants requests while they fit the budget and refuses the one that does not", () => {
    const admission = createAdmission(1000);
    expect(admission.tryAcquire(600)).toBe(true);
    expect(admission.tryAcquire(400)).toBe(true);
    expect(admission.tryAcquire(1)).toBe(false);
    expect(admission.counters).toEqual({
      inflightBytes: 1000,
      peakInflightBytes: 1000,
      maxInflightBytes: 1000,
      acquisitions: 2,
      rejections: 1,
      rejectedBytes: 1,
    });
  });

  it("a release makes room again and the peak is kept", () => {
    const admission = createAdmission(1000);
    admission.tryAcquire(900);
    admission.release(900);
    expect(admission.tryAcquire(1000)).toBe(true);
    admission.release(1000);
    expect(admission.counters.inflightBytes).toBe(0);
    expect(admission.counters.peakInflightBytes).toBe(1000);
  });

  it("a request larger than the whole budget is never granted", () => {
    const admission = createAdmission(1000);
    expect(admission.tryAcquire(1001)).toBe(false);
    expect(admission.counters.rejections).toBe(1);
  });

  it("releasing more than is held clamps at zero", () => {
    const admission = createAdmission(1000);
    admission.tryAcquire(10);
    admission.release(50);
    expect(admission.counters.inflightBytes).toBe(0);
  });

  it.each([0, -1, Number.NaN])("a budget of %d is refused", (budget) => {
    expect(() => createAdmission(budget)).toThrow(RangeError);
  });

  it("a lease gives back everything it took, once", () => {
    const admission = createAdmission(1000);
    const lease = new AdmissionLease(admission);
    expect(lease.tryAcquire(300)).toBe(true);
    expect(lease.tryAcquire(300)).toBe(true);
    expect(lease.tryAcquire(500)).toBe(false);
    expect(lease.heldBytes).toBe(600);
    lease.release();
    lease.release();
    expect(admission.counters.inflightBytes).toBe(0);
  });
});
