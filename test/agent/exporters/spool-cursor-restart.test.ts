/**
 * The spool's saved cursor names a segment by sequence number. When a drain deletes every segment
 * and the process restarts on the empty directory, new segments must not be numbered below the
 * saved cursor: a later restart would read them as already acknowledged and drop them silently.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { DiskSpool } from "../../../agent/exporters/spool/disk-spool.js";
import { drain } from "./spool-drain.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "inferwatch-spool-cursor-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open = () => DiskSpool.open({ dir, maxBytes: 1024 * 1024, segmentBytes: 64, fsync: "never" });

it("keeps what was spooled after a restart on a fully drained directory, then a crash", async () => {
  // Run 1: an outage spools records over several segments; the agent stops before they are sent.
  const first = await open();
  for (let i = 0; i < 10; i++) await first.append(Buffer.from(`old-${i}-padding-padding`), 1);
  await first.close();
  // Run 2: replays the backlog; every segment is passed and deleted (none is open for appends).
  const second = await open();
  expect(await drain(second)).toHaveLength(10);
  await second.close();
  expect((await readdir(dir)).filter((name) => name.endsWith(".seg"))).toEqual([]);
  // Run 3: starts on the empty directory, spools during a new outage, and is killed before any send.
  const third = await open();
  for (let i = 0; i < 3; i++) await third.append(Buffer.from(`new-${i}`), 1);
  await third.close();
  // Run 4: every point spooled in run 3 is still pending and replayed.
  const fourth = await open();
  expect(fourth.stats().pendingPoints).toBe(3);
  expect(await drain(fourth)).toEqual(["new-0", "new-1", "new-2"]);
  await fourth.close();
});
