import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import { CommanderError } from "commander";
import fc from "fast-check";
import { FirstcallError, InputError, OutputError, StateError, UsageError } from "../errors.js";
import { EXIT, EXIT_CODES, exitCodeForError } from "../exit-codes.js";
import { ALL_ATTACKS, ATTACKS, terminalHazards } from "../test-helpers/terminal.js";
import { renderFailure } from "./failure.js";
import { writeOutput } from "./output.js";

const context = { version: "9.9.9", debug: false };

/** A real SqliteError from better-sqlite3. */
function sqliteError(): Error {
  const db = new Database(":memory:");
  try {
    db.prepare("SELECT * FROM no_such_table").all();
  } catch (e) {
    return e as Error;
  } finally {
    db.close();
  }
  throw new Error("expected SQLite to fail");
}

describe("exit codes", () => {
  test("the table has one entry per code, in order, each with a meaning", () => {
    assert.deepEqual(
      EXIT_CODES.map((e) => e.code),
      [0, 1, 2, 3, 4, 5, 6, 7, 70, 130],
    );
    for (const e of EXIT_CODES) assert.equal(EXIT[e.name], e.code);
  });

  test("each error class maps to its code", () => {
    assert.equal(exitCodeForError(new UsageError("E_USAGE", "x")), EXIT.usage);
    assert.equal(exitCodeForError(new UsageError("E_CONFIG", "x")), EXIT.usage);
    assert.equal(exitCodeForError(new UsageError("E_STATE", "x")), EXIT.state, "the older state code is a state error");
    assert.equal(exitCodeForError(new StateError("E_STATE_CORRUPT", "x")), EXIT.state);
    assert.equal(exitCodeForError(sqliteError()), EXIT.state, "a SqliteError escaping the store is a state error");
    assert.equal(exitCodeForError(new InputError("E_READ", "a.json", "x")), EXIT.input);
    assert.equal(exitCodeForError(new OutputError("E_OUTPUT", "x")), EXIT.output);
    const epipe = Object.assign(new Error("write EPIPE"), { code: "EPIPE", syscall: "write" });
    assert.equal(exitCodeForError(epipe), EXIT.output);
    assert.equal(exitCodeForError(new FirstcallError("E_RUN_FILE", "x")), EXIT.usage);
    assert.equal(exitCodeForError(new FirstcallError("E_SOMETHING_NEW", "x")), EXIT.internal);
    assert.equal(exitCodeForError(new TypeError("x is undefined")), EXIT.internal);
    assert.equal(exitCodeForError("a string thrown"), EXIT.internal);
    assert.equal(exitCodeForError(undefined), EXIT.internal);
  });

  test("property: no error of any kind maps to 1 (findings) or 0", () => {
    const thrown = fc.oneof(
      fc.anything(),
      fc.string().map((m) => new Error(m)),
      fc.string().map((m) => new RangeError(m)),
      fc.tuple(fc.string(), fc.string()).map(([code, m]) => new FirstcallError(code, m)),
      fc.tuple(fc.string(), fc.string()).map(([code, m]) => Object.assign(new Error(m), { code })),
    );
    fc.assert(
      fc.property(thrown, (e) => {
        const code = exitCodeForError(e);
        assert.ok(code !== EXIT.findings && code !== EXIT.ok, `mapped to ${code}`);
      }),
    );
  });
});

describe("renderFailure", () => {
  test("internal error: exit 70, one line saying it is a bug and where to report it, no stack", () => {
    const f = renderFailure(new TypeError("cannot read properties of undefined"), context);
    assert.equal(f.exitCode, 70);
    assert.equal(f.text.split("\n").length, 2, "one line and its newline");
    assert.match(f.text, /^firstcall: internal error: TypeError: cannot read properties of undefined/);
    assert.match(f.text, /a bug in firstcall 9\.9\.9: please report it to .+ FIRSTCALL_DEBUG=1/);
    assert.ok(!/\n\s+at /.test(f.text), "no stack trace");
  });

  test("FIRSTCALL_DEBUG=1 adds the stack trace", () => {
    const f = renderFailure(new TypeError("boom"), { ...context, debug: true });
    assert.equal(f.exitCode, 70);
    assert.match(f.text, /\n\s+at /);
  });

  test("a state file that SQLite cannot read: exit 4, one line, no stack", () => {
    const f = renderFailure(sqliteError(), context);
    assert.equal(f.exitCode, 4);
    assert.match(f.text, /^firstcall: state file: no such table: no_such_table \(SQLITE_ERROR\)\n$/);
  });

  test("usage, state, output and input errors print their message on one line", () => {
    const cases: [Error, number][] = [
      [new UsageError("E_CONFIG", "f.yaml: allow.cidrs[0]: bad"), 2],
      [new StateError("E_STATE", "s.sqlite: cannot use as a state file"), 4],
      [new OutputError("E_OUTPUT", "cannot write standard output: ENOSPC"), 5],
      [new InputError("E_READ", "a.json", "cannot read"), 3],
    ];
    for (const [error, code] of cases) {
      const f = renderFailure(error, context);
      assert.equal(f.exitCode, code);
      assert.equal(f.text, `firstcall: ${error.message}\n`);
    }
  });

  test("commander has printed its own message: nothing more, exit 2 (0 for --help)", () => {
    assert.deepEqual(renderFailure(new CommanderError(1, "commander.unknownOption", "x"), context), {
      exitCode: 2,
      text: "",
    });
    assert.equal(renderFailure(new CommanderError(0, "commander.helpDisplayed", "x"), context).exitCode, 0);
  });

  test("attack strings in an error message are escaped: no raw control character, no forged line", () => {
    for (const error of [
      new UsageError("E_CONFIG", `cannot read configuration ${ALL_ATTACKS}`),
      new TypeError(ALL_ATTACKS),
      new StateError("E_STATE", ATTACKS.newlineForgery as string),
    ]) {
      const f = renderFailure(error, { ...context, debug: true });
      assert.deepEqual(terminalHazards(f.text, { allowLineFeed: true }), []);
      assert.ok(!f.text.split("\n").some((l) => l.startsWith("2. [fake]")));
    }
  });
});

describe("writeOutput", () => {
  test("resolves once the text is written", async () => {
    let written = "";
    const sink = new Writable({
      write(chunk, _encoding, done) {
        written += String(chunk);
        done();
      },
    });
    await writeOutput(sink, "findings\n");
    assert.equal(written, "findings\n");
  });

  test("a failed write rejects with an OutputError naming the destination, and later writes fail at once", async () => {
    const full = new Writable({
      write(_chunk, _encoding, done) {
        done(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }));
      },
    });
    await assert.rejects(
      writeOutput(full, "x", { name: "findings.txt", hint: "free some space" }),
      (e: unknown) =>
        e instanceof OutputError &&
        e.message === "cannot write findings.txt: ENOSPC: no space left on device, write (free some space)",
    );
    await assert.rejects(writeOutput(full, "y", { name: "findings.txt" }), OutputError);
  });
});
