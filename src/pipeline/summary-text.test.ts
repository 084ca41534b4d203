import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { textFormat } from "../findings/formats/text.js";
import { at, call, ec2Issuance } from "../test-helpers/records.js";
import { ALL_ATTACKS, ATTACKS, terminalHazards } from "../test-helpers/terminal.js";
import { runScan } from "./scan.js";
import { renderSummaryText } from "./summary-text.js";

const root = mkdtempSync(join(tmpdir(), "firstcall-summary-text-"));
after(() => rmSync(root, { recursive: true, force: true }));

describe("text summary and findings from hostile logs", () => {
  test("file names, problem messages, skip reasons and record fields reach the terminal escaped", async () => {
    // Names a copied bucket can carry: ESC sequences, a forged line, a bidirectional override.
    const evil = `${ATTACKS.clearScreen}${ATTACKS.newlineForgery}${ATTACKS.rightToLeftOverride}${ATTACKS.c1Csi}`;
    writeFileSync(join(root, `broken-${evil}.json`), '{"Records": [ {"eventTime": ');
    writeFileSync(join(root, `other-${evil}.json`), JSON.stringify({ name: ALL_ATTACKS }));
    const I = "i-0aaaaaaaaaaaaaaa1";
    const KEY = "ASIAHOSTILE000000001";
    const records = [
      ec2Issuance(I, KEY, at(0)),
      call(I, KEY, "54.1.1.1", at(1)),
      call(I, KEY, "203.0.113.66", at(2), { userAgent: `aws-cli/2 ${ALL_ATTACKS}`, name: `Get${ATTACKS.oscTitle}` }),
    ];
    writeFileSync(join(root, "0001.json"), JSON.stringify({ Records: records }));

    const { findings, summary } = await runScan({ paths: [root], statePath: ":memory:" });
    assert.ok(
      summary.problems.some((p) => p.message.includes(evil)),
      "the problem names the hostile file",
    );
    assert.ok(
      summary.skipped.some((s) => s.object.includes(evil)),
      "the skipped file is the hostile one",
    );
    assert.ok(
      findings.some((f) => f.event.userAgent?.includes("\x1b")),
      "the raw attack is in the finding data",
    );

    const text = renderSummaryText(summary);
    assert.deepEqual(terminalHazards(text, { allowLineFeed: true }), []);
    assert.ok(!text.split("\n").some((l) => l.startsWith("2. [fake]")), "no forged line");
    assert.ok(text.includes("\\x1b[2J"), "the file name is shown with visible escapes");

    const rendered = textFormat.render(findings);
    assert.deepEqual(terminalHazards(rendered, { allowLineFeed: true }), []);
    assert.ok(rendered.includes("\\x1b]0;all clear\\x07"));
  });
});
