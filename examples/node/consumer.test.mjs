// A Node consumer's test suite against `harness replay --control` (node:test, built-in
// fetch and WebSocket; no npm packages).  Run: HARNESS_PYTHON=python node --test
// (Node 20: add --experimental-websocket).  The harness is driven over plain HTTP under
// /_harness/, as a Node, Go or Java project would.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const TIMEOUT_MS = 15000;
const folder = mkdtempSync(join(tmpdir(), "harness-node-"));
const readyFile = join(folder, "ready.json");
let replay;
let details;

function waitFor(what, check) {
  // Poll until check() returns a value; bounded by TIMEOUT_MS.
  const deadline = Date.now() + TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const look = () => {
      const value = check();
      if (value !== undefined) return resolve(value);
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(look, 20);
    };
    look();
  });
}

async function control(method, endpoint, body) {
  const answer = await fetch(`${details.base_url}/_harness/${endpoint}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: answer.status, body: await answer.json() };
}

async function subscribedSocket() {
  const token = await fetch(`${details.base_url}/v1/ws/new/?t=node-test`).then((r) => r.json());
  const ws = new WebSocket(token.result[0].server);
  const frames = [];
  ws.addEventListener("message", (event) => frames.push(JSON.parse(event.data)));
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve);
    ws.addEventListener("error", reject);
  });
  ws.send(JSON.stringify({ action: "subscribe", channel: "MAIN", scope: "all" }));
  await waitFor("the subscribed reply", () => frames.find((f) => f.type === "subscribed"));
  return { ws, frames };
}

before(async () => {
  const python = process.env.HARNESS_PYTHON || "python3";
  const args = ["-m", "harness", "replay", "--port", "0", "--ready-file", readyFile];
  replay = spawn(python, [...args, "--control", "--quiet", "--speed", "1"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  details = await waitFor("harness replay to be ready", () => {
    try {
      return JSON.parse(readFileSync(readyFile, "utf8"));
    } catch {
      return undefined;
    }
  });
});

after(async () => {
  if (replay && replay.exitCode === null) {
    const exited = new Promise((resolve) => replay.once("exit", resolve));
    replay.kill("SIGTERM");
    await exited;
  }
  rmSync(folder, { recursive: true, force: true });
});

test("a pushed goal reaches the subscribed client", async () => {
  const { ws, frames } = await subscribedSocket();
  const goal = { type: "goal", channel: "MAIN", matchId: "n1", data: { score: "1;0" } };
  const pushed = await control("POST", "push", goal);
  assert.equal(pushed.status, 200);
  assert.equal(pushed.body.connections, 1);
  await waitFor("the pushed goal", () => frames.find((f) => f.matchId === "n1"));
  ws.close();
});

test("pause, stats and close-connections do what they say", async () => {
  const { ws } = await subscribedSocket();
  assert.equal((await control("POST", "pause")).body.paused, true);
  assert.equal((await control("GET", "stats")).body.paused, true);
  const closed = new Promise((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
  const answer = await control("POST", "close-connections", { code: 4000, reason: "bye" });
  assert.equal(answer.body.closed, 1);
  assert.equal(await closed, 4000);
  await control("POST", "resume");
});

test("the journal shows the client's subscription", async () => {
  const { body } = await control("GET", "journal");
  assert.ok(body.entries.some((e) => e.kind === "ws_in" && e.summary.includes("subscribe")));
});

test("a bad request gets a 4xx with the REST envelope", async () => {
  const unknown = await control("POST", "nothing-here", {});
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.status, 404);
  const bad = await control("POST", "seek", { t: "soon" });
  assert.equal(bad.status, 400);
  assert.ok(bad.body.errors[0].message.length > 0);
});
