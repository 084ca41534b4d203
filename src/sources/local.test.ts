import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { listLocalObjects } from "./local.js";

const root = mkdtempSync(join(tmpdir(), "firstcall-local-"));
after(() => rmSync(root, { recursive: true, force: true }));

function dir(...parts: string[]): string {
  const path = join(root, ...parts);
  mkdirSync(path, { recursive: true });
  return path;
}

function file(path: string, text = '{"Records":[]}'): string {
  writeFileSync(path, text);
  return path;
}

describe("listLocalObjects: symbolic links", () => {
  test("a symlinked account folder is walked like a real one", async () => {
    const elsewhere = dir("elsewhere", "111122223333", "CloudTrail", "us-east-1", "2026", "11", "01");
    const log = file(join(elsewhere, "111122223333_CloudTrail_us-east-1_20261101T0000Z_abc.json.gz"), "x");
    const awsLogs = dir("bucket", "AWSLogs");
    dir("bucket", "AWSLogs", "444455556666");
    symlinkSync(join(root, "elsewhere", "111122223333"), join(awsLogs, "111122223333"));
    const { objects, problems, ignored } = await listLocalObjects([join(root, "bucket")]);
    assert.deepEqual(problems, []);
    assert.equal(ignored, 0);
    assert.deepEqual(
      objects.map((o) => o.id),
      [join(awsLogs, "111122223333", "CloudTrail", "us-east-1", "2026", "11", "01", log.split("/").pop() as string)],
    );
  });

  test("links to the folder itself and to its parent (a.json → ., b.json → ..) end, and list each file once", async () => {
    const top = dir("loops");
    const inner = dir("loops", "inner");
    file(join(top, "outside.json"));
    file(join(inner, "x.json"));
    symlinkSync(".", join(inner, "a.json"));
    symlinkSync("..", join(inner, "b.json"));
    const { objects, problems } = await listLocalObjects([inner]);
    assert.deepEqual(problems, []);
    const real = objects.map((o) => realpathSync(o.id)).sort();
    assert.deepEqual(real, [realpathSync(join(top, "outside.json")), realpathSync(join(inner, "x.json"))].sort());
    assert.deepEqual(
      objects.map((o) => o.id),
      [join(inner, "b.json", "outside.json"), join(inner, "x.json")],
      "walk order: entries sorted by name, depth first",
    );
  });

  test("a file reachable by two paths is listed once, under the first path in walk order", async () => {
    const base = dir("twice");
    dir("twice", "a");
    dir("twice", "b");
    file(join(base, "b", "file.json"));
    symlinkSync(join("..", "b", "file.json"), join(base, "a", "link.json"));
    symlinkSync(join(base, "b"), join(base, "c"));
    const { objects } = await listLocalObjects([base, join(base, "b", "file.json")]);
    assert.deepEqual(
      objects.map((o) => o.id),
      [join(base, "a", "link.json")],
    );
  });

  test("a dangling link and a link loop are named problems, and the walk goes on", async () => {
    const base = dir("dangling");
    file(join(base, "good.json"));
    symlinkSync(join(base, "gone.json.gz"), join(base, "dead.json.gz"));
    symlinkSync(join(base, "gone-account"), join(base, "111122223333"));
    symlinkSync("self.json", join(base, "self.json"));
    const { objects, problems } = await listLocalObjects([base]);
    assert.deepEqual(
      objects.map((o) => o.id),
      [join(base, "good.json")],
    );
    const byObject = new Map(problems.map((p) => [p.object, p.message]));
    assert.match(
      byObject.get(join(base, "dead.json.gz")) ?? "",
      /^dangling symbolic link: its target .*gone\.json\.gz does not exist$/,
    );
    assert.match(byObject.get(join(base, "111122223333")) ?? "", /^dangling symbolic link: .*gone-account/);
    assert.match(byObject.get(join(base, "self.json")) ?? "", /^symbolic link loop/);
    assert.equal(problems.length, 3);
  });

  test("a dangling link given on the command line is named as such", async () => {
    const link = join(dir("given"), "dead.json");
    symlinkSync(join(root, "given", "missing.json"), link);
    const { problems } = await listLocalObjects([link]);
    assert.deepEqual(
      problems.map((p) => p.object),
      [link],
    );
    assert.match(problems[0]?.message ?? "", /^dangling symbolic link/);
  });
});
