import assert from "node:assert/strict";
import {
  formatUsage,
  HOSTED_LIMITS,
  hostedLimitFlags,
  hostedLimitsFromEnv,
  isHeapOutOfMemory,
  parseProcStatus,
  readProcessMemory,
  UsageLedger,
} from "./hosted_limits.ts";

const MIB = 1024 * 1024;

Deno.test("BT_HOSTED_LIMITS turns on Supabase's documented limits and nothing else does", () => {
  for (const on of ["1", "true", "TRUE", " yes ", "on"]) {
    assert.deepEqual(hostedLimitsFromEnv(on), {
      memoryMiB: 256,
      cpuMsPerRequest: 2000,
      idleTimeoutMs: 150_000,
    }, on);
  }
  for (const off of [undefined, "", "0", "false", "off", "2"]) {
    assert.equal(hostedLimitsFromEnv(off), undefined, String(off));
  }
});

Deno.test("a hosted-limits process runs without subprocesses and with the heap capped", () => {
  assert.deepEqual(hostedLimitFlags(HOSTED_LIMITS), [
    "--deny-run",
    "--v8-flags=--max-old-space-size=256",
  ]);
});

Deno.test("RSS and its high-water mark are read from /proc/<pid>/status", async () => {
  const status = "Name:\tdeno\nVmPeak:\t 9999 kB\nVmHWM:\t   204800 kB\nVmRSS:\t   102400 kB\n";
  assert.deepEqual(parseProcStatus(status), { rssBytes: 100 * MIB, peakRssBytes: 200 * MIB });
  assert.equal(parseProcStatus("Name:\tdeno\n"), undefined);
  if (Deno.build.os === "linux") {
    const own = await readProcessMemory(Deno.pid);
    assert.ok(own && own.peakRssBytes >= own.rssBytes && own.rssBytes > MIB);
  }
  assert.equal(await readProcessMemory(2 ** 30), undefined);
});

Deno.test("V8's messages at the heap cap are recognised", () => {
  assert.ok(isHeapOutOfMemory("# Fatal JavaScript out of memory: Reached heap limit"));
  assert.ok(isHeapOutOfMemory("FATAL ERROR: Reached heap limit Allocation failed"));
  assert.ok(!isHeapOutOfMemory("out of memory for query result"));
});

Deno.test("the ledger keeps peaks and counts each miss once", () => {
  const ledger = new UsageLedger({ memoryMiB: 100, cpuMsPerRequest: 50, idleTimeoutMs: 1000 });
  ledger.processStarted("a");
  assert.equal(ledger.request("a", { method: "GET", path: "/a", cpuMs: 20, wallMs: 30 }), false);
  assert.equal(ledger.request("a", { method: "POST", path: "/a", cpuMs: 70, wallMs: 90 }), true);
  assert.equal(ledger.memory("a", 80 * MIB, false), false);
  assert.equal(ledger.memory("a", 120 * MIB, false), true);
  // The same process staying over is not a new miss; a new process going over is.
  assert.equal(ledger.memory("a", 130 * MIB, true), false);
  ledger.processStarted("a");
  assert.equal(ledger.memory("a", 110 * MIB, false), true);
  ledger.idleTimeout("a");
  ledger.workerRefused("b");
  ledger.heapOutOfMemory("b");
  assert.deepEqual(ledger.snapshot(), [
    {
      name: "a",
      processes: 2,
      requests: 2,
      peakRssBytes: 130 * MIB,
      processesOverMemory: 2,
      heapOutOfMemory: 0,
      maxCpuMs: 70,
      totalCpuMs: 90,
      cpuOverLimit: 1,
      idleTimeouts: 1,
      workersRefused: 0,
    },
    {
      name: "b",
      processes: 0,
      requests: 0,
      peakRssBytes: 0,
      processesOverMemory: 0,
      heapOutOfMemory: 1,
      maxCpuMs: 0,
      totalCpuMs: 0,
      cpuOverLimit: 0,
      idleTimeouts: 0,
      workersRefused: 1,
    },
  ]);
  assert.equal(
    formatUsage(ledger.snapshot(), ledger.limits),
    "a: peak RSS 130 MiB of 100 MiB; 2 requests, CPU max 70 ms, total 90 ms; MISSES: 1 over " +
      "50 ms CPU, 2 process(es) over memory, 1 idle timeout(s)\n" +
      "b: peak RSS 0 MiB of 100 MiB; 0 requests, CPU max 0 ms, total 0 ms; MISSES: 1 heap out " +
      "of memory, 1 Worker(s) refused",
  );
});
