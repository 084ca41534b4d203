import { type CommandSpec, formatOption } from "./options.js";

/** The `imds report` command's options: the single source for its flags and its documentation. */
export const imdsReportSpec: CommandSpec = {
  name: "imds report",
  arguments: "<paths...>",
  summary:
    "Which instances and roles can still hand out credentials through IMDSv1, from CloudTrail: credentials delivered by IMDSv1 (`ec2RoleDelivery` 1.0), the metadata options of `RunInstances`, `ModifyInstanceMetadataOptions`, launch templates and the account's defaults, and hop limits above 1 where containers run. Each instance, launch template and account default that allows IMDSv1 comes with the AWS CLI command that fixes it.",
  options: [formatOption(["text", "json"], "output format (json: the report as one object)")],
  notes: [
    "Exit code 1 when a credential delivered by IMDSv1 was seen (software there still uses IMDSv1: update it before requiring tokens), 3 when a log could not be read or none was found, else 0. An instance whose settings the logs do not show is reported as `unknown`: the launch defaults then depend on the AMI and the account's defaults.",
  ],
  examples: [
    "firstcall imds report AWSLogs/",
    "firstcall imds report AWSLogs/ --format json | jq '.instances[] | select(.status != \"imdsv2-required\")'",
  ],
};
