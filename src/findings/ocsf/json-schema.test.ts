import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import {
  DETECTION_FINDING_SCHEMA_PATH,
  defaultOcsfSourceDir,
  detectionFindingSchemaText,
  ocsfClassJsonSchema,
} from "./json-schema.js";

const sourceDir = defaultOcsfSourceDir();
const haveSources = existsSync(join(sourceDir, "dictionary.json"));
const committed = readFileSync(DETECTION_FINDING_SCHEMA_PATH, "utf8");

function compile(schema: object) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  addFormats.default(ajv);
  return ajv.compile(schema);
}

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON walked by attribute name in assertions
type Json = { [key: string]: any };

/** A small valid Detection Finding, built by hand from the OCSF 1.8.0 documentation. */
function minimalEvent(): Json {
  return {
    activity_id: 1,
    category_uid: 2,
    class_uid: 2004,
    type_uid: 200401,
    severity_id: 4,
    time: 1_700_000_000_000,
    finding_info: { uid: "f-1", attacks: [{ technique: { uid: "T1078" } }] },
    metadata: { version: "1.8.0", product: { name: "firstcall" }, profiles: ["cloud"] },
    cloud: { provider: "AWS" },
    observables: [{ type_id: 2, value: "198.51.100.1" }],
    evidences: [{ src_endpoint: { ip: "198.51.100.1" } }],
  };
}

describe("the OCSF Detection Finding JSON Schema", () => {
  test("generated from the OCSF sources, it is the committed file, and generating twice gives the same bytes", {
    skip: haveSources ? false : `OCSF sources absent at ${sourceDir} (set OCSF_SCHEMA_DIR)`,
  }, (t) => {
    t.diagnostic(`sources ${sourceDir}`);
    const first = detectionFindingSchemaText(sourceDir);
    const second = detectionFindingSchemaText(sourceDir);
    assert.equal(first, second, "deterministic");
    assert.equal(first, committed, "data/ocsf is current: run `node --import tsx scripts/gen-ocsf-schema.ts`");
  });

  test("the licence and notice of the OCSF schema sit beside it", () => {
    const dir = join(DETECTION_FINDING_SCHEMA_PATH, "..");
    assert.match(readFileSync(join(dir, "LICENSE"), "utf8"), /Apache License\s+Version 2\.0/);
    assert.match(readFileSync(join(dir, "NOTICE"), "utf8"), /Open Cybersecurity Schema Framework/);
  });

  test("the class is resolved: extends chain, required attributes, enums, the cloud profile", () => {
    const schema = JSON.parse(committed) as Json;
    assert.match(schema.$comment, /base_event > finding > detection_finding/);
    assert.deepEqual(schema.required, [
      "activity_id",
      "category_uid",
      "class_uid",
      "cloud",
      "finding_info",
      "metadata",
      "severity_id",
      "time",
      "type_uid",
    ]);
    assert.deepEqual(schema.properties.activity_id.enum, [0, 1, 2, 3, 99], "Base Event's 0/99 with Finding's 1-3");
    assert.deepEqual(schema.properties.severity_id.enum, [0, 1, 2, 3, 4, 5, 6, 99], "from the dictionary");
    assert.deepEqual(schema.properties.time, { type: "integer" }, "timestamp_t is a long");
    assert.ok(schema.properties.cloud, "cloud profile applied");
    assert.equal(schema.properties.container, undefined, "container profile not applied");
    assert.deepEqual(schema.$defs.finding_info.required, ["uid"]);
    assert.ok(schema.$defs.network_endpoint.properties.ip.pattern, "ip_t's regex");
    assert.equal(schema.$defs.network_endpoint.properties.ip.maxLength, 40);
  });

  test("ajv accepts a hand-made valid event and rejects each kind of mistake", () => {
    const validate = compile(JSON.parse(committed));
    assert.ok(validate(minimalEvent()), JSON.stringify(validate.errors));
    const broken: [string, (e: Json) => void][] = [
      [
        "wrong class",
        (e) => {
          e.class_uid = 2003;
        },
      ],
      [
        "unknown severity id",
        (e) => {
          e.severity_id = 7;
        },
      ],
      [
        "missing finding uid",
        (e) => {
          delete e.finding_info.uid;
        },
      ],
      [
        "time as text",
        (e) => {
          e.time = "2026-11-01T00:00:00Z";
        },
      ],
      [
        "attribute not in the class",
        (e) => {
          e.sevrity = "High";
        },
      ],
      [
        "attribute of a profile not applied",
        (e) => {
          e.container = { name: "c" };
        },
      ],
      [
        "type_uid of another activity",
        (e) => {
          e.type_uid = 200404;
        },
      ],
      [
        "observable type not in the schema",
        (e) => {
          e.observables[0].type_id = 28;
        },
      ],
      [
        "not an IP address",
        (e) => {
          e.evidences[0].src_endpoint.ip = "not-an-ip";
        },
      ],
      [
        "attack without tactic or technique",
        (e) => {
          e.finding_info.attacks = [{ version: "v17" }];
        },
      ],
      [
        "cloud without provider",
        (e) => {
          e.cloud = { region: "us-east-1" };
        },
      ],
      [
        "metadata without version",
        (e) => {
          delete e.metadata.version;
        },
      ],
    ];
    for (const [what, breakIt] of broken) {
      const e = minimalEvent();
      breakIt(e);
      assert.equal(validate(e), false, what);
    }
  });

  test("another class resolves too (the generator is not tied to Detection Finding)", {
    skip: haveSources ? false : `OCSF sources absent at ${sourceDir}`,
  }, () => {
    const schema = ocsfClassJsonSchema({ sourceDir, className: "api_activity", profiles: ["cloud"] }) as Json;
    assert.equal(schema.properties.class_uid.const, 6003);
    compile(schema);
  });
});
