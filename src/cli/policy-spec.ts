import { type CommandSpec, formatOption } from "./options.js";

const detectionOptions = [
  { flags: "-c, --config <file>", description: "YAML configuration (ownNetworks, accounts, endpoints), as for scan" },
  {
    flags: "--ip-ranges <file>",
    description:
      "AWS ip-ranges.json for the detection run (default: the copy from `ip-ranges update`, else the shipped snapshot)",
  },
] as const;

/** `policy generate`: the single source for its flags and documentation. */
export const policyGenerateSpec: CommandSpec = {
  name: "policy generate",
  arguments: "[path...]",
  summary:
    "Builds, from what the logs show the selected roles legitimately used (calls flagged by detection left out and listed), an IAM managed policy that denies their credentials from any other public address, VPC endpoint or VPC, the organisation-wide SCP for instance credentials, and Terraform and CloudFormation forms, each statement explained.",
  options: [
    {
      flags: "--state <path>",
      description:
        "learn from a scan's state (its live sessions, fleet knowledge and findings) instead of reading logs",
    },
    {
      flags: "--role <pattern>",
      description:
        "role name or ARN to cover, IAM wildcards allowed (`app-*`); repeatable. Default: every workload role (credentials EC2 instances, ECS tasks or Lambda functions used)",
      repeatable: true,
    },
    {
      flags: "--any-role",
      description:
        "also cover roles no workload used: people's and pipelines' (their addresses move) and service roles (the service calls from its own network, where aws:ViaAWSService is false: a Deny would break it)",
    },
    {
      flags: "--name <name>",
      description: "policy name (Terraform/CloudFormation)",
      defaultText: "firstcall-enforce[-ROLE]",
    },
    {
      flags: "--out <dir>",
      description:
        "write policy.json, scp.json, policy.md (each statement explained), policy.tf and policy.cfn.yaml into this folder",
    },
    {
      flags: "--emit <what>",
      description: "without --out: what to print on stdout",
      choices: ["policy", "scp", "markdown", "terraform", "cloudformation"],
      defaultValue: "policy",
    },
    ...detectionOptions,
  ],
  examples: [
    "firstcall policy generate AWSLogs/ --role 'app-*' > enforce.json",
    "firstcall policy generate --state ~/.local/state/firstcall/state.sqlite --role app-web --out policies/",
    "firstcall policy generate sim/ --config sim/firstcall.yaml --out policies/ && firstcall policy test policies/policy.json sim/",
  ],
  notes: [
    "**Sources.** With log paths, the logs are read and the detection engine is run over them in a throw-away state; calls of a credential from an address with an open finding are left out of the policy and listed in policy.md (the policy will deny them). With `--state`, only the sessions the state still holds (those live at its last checkpoint: about one credential lifetime) are used, with its stored findings.",
    "**Which paths a flagged credential teaches.** A credential with an open finding teaches only paths that something outside it corroborates (a clean credential used it, a known NAT gateway or Elastic IP, `ownNetworks`, an endpoint created in the logs), or the side that kept being used after a key rotation (a thief uses the key he copied; when he called first, his address is detection's home and the holder's own address is the flagged one), or, when the logs show no rotation, the home detection accepted. A Lambda function's environments share a session name: each of its keys is a credential of its own.",
    "**Addresses.** Public addresses are aggregated into the smallest exact CIDR list; an address inside a configured `ownNetworks` block, or an IPv6 address inside a subnet or VPC block learned from the logs, is allowed as that block (policy.md lists each). When the policy exceeds IAM's limit (6,144 characters without white space for a managed policy, 5,120 for an SCP), neighbouring blocks are merged, fewest added addresses first, and policy.md lists each merge with the number of addresses it added. A policy that still does not fit is written anyway, with a warning, and the exit code is 6.",
  ],
};

/** `policy test`: the single source for its flags and documentation. */
export const policyTestSpec: CommandSpec = {
  name: "policy test",
  arguments: "<policy> <path...>",
  summary:
    "Evaluates a policy's statements (identity policy or SCP) against every call of historical CloudTrail and reports the calls it would deny, grouped by role, address and API: those detection flagged (the thief) apart from the rest (production it would break), and the calls whose verdict depends on keys CloudTrail does not record.",
  options: [
    {
      flags: "--role <pattern>",
      description: "roles the policy is attached to, names or ARNs with IAM wildcards; repeatable",
      repeatable: true,
      defaultText: "every role",
    },
    formatOption(["text", "json"]),
    ...detectionOptions,
  ],
  examples: [
    "firstcall policy test enforce.json AWSLogs/ --role 'app-*'",
    "firstcall policy test policies/scp.json AWSLogs/ --format json > test.json",
  ],
  notes: [
    '**Request context from CloudTrail.** `sourceIPAddress` gives `aws:SourceIp` (absent through a VPC endpoint, where AWS does not provide it, and `aws:VpcSourceIp` is the private address instead), `vpcEndpointId` gives `aws:SourceVpce`, `userIdentity.invokedBy` or a service name as source gives `aws:ViaAWSService` true; `aws:SourceVpc` is known only for endpoints a `CreateVpcEndpoint` in the same logs names, `aws:ec2InstanceSourceVPC` only when the record has `ec2IssuedInVPC`, `aws:ec2InstanceSourcePrivateIPv4` never. A verdict that depends on an unrecorded key is `unknown`: reported with the keys it lacks (per group, and counted per key in the summary and in JSON `unknownKeys`), never counted as allowed. The endpoint-path statements of the generated SCP are typically unknown on CloudTrail: `aws:ec2InstanceSourcePrivateIPv4` is never recorded, and `aws:SourceVpc` only for endpoints created in the same logs. Resources are not known from the records: only `"Resource": "*"` is sure to match.',
    "**Exit code.** 6 when at least one call detection did not flag would be denied; 0 otherwise (unknown calls are reported but do not fail). An unreadable log file is listed and the others are still judged (exit 3 if nothing else failed).",
  ],
};
