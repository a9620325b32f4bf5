import { describe, expect, it } from "vitest";
import { WIRE_LEN, WIRE_VARINT, WireReader } from "../../../common/protobuf/reader.js";
import { WireWriter } from "../../../common/protobuf/writer.js";

describe("WireWriter", () => {
  it("writes the encoding guide's example bytes: field 1 = 150 is 08 96 01", () => {
    // https://protobuf.dev/programming-guides/encoding/ ("A Simple Message": Test1 { a = 150 }).
    expect([...new WireWriter().varintField(1, 150).finish()]).toEqual([0x08, 0x96, 0x01]);
    // Same page, "Length-Delimited Records": Test2 { b = "testing" } is 12 07 74 65 73 74 69 6e 67.
    expect(new WireWriter().stringField(2, "testing").finish().toString("hex")).toBe("120774657374696e67");
  });

  it("round-trips through WireReader: varints up to 2^53 - 1, UTF-8 strings and nested messages", () => {
    const inner = new WireWriter().varintField(1, Number.MAX_SAFE_INTEGER).stringField(2, "ü€").finish();
    const reader = new WireReader(new WireWriter().varintField(3, 0).bytesField(4, inner).finish());
    expect(reader.tag()).toBe(3 * 8 + WIRE_VARINT);
    expect(reader.varint()).toBe(0);
    expect(reader.tag()).toBe(4 * 8 + WIRE_LEN);
    const outer = reader.enter();
    expect(reader.tag()).toBe(1 * 8 + WIRE_VARINT);
    expect(reader.varint()).toBe(Number.MAX_SAFE_INTEGER);
    expect(reader.tag()).toBe(2 * 8 + WIRE_LEN);
    expect(reader.string(100)).toBe("ü€");
    expect(reader.more()).toBe(false);
    reader.limit = outer;
    expect(reader.more()).toBe(false);
  });

  it("refuses what a varint field cannot hold instead of writing wrong bytes", () => {
    expect(() => new WireWriter().varintField(1, -1)).toThrow(RangeError);
    expect(() => new WireWriter().varintField(1, 2 ** 53)).toThrow(RangeError);
    expect(() => new WireWriter().varintField(1, 1.5)).toThrow(RangeError);
  });
});
