/**
 * Step Functions execution names and ARNs, computed, never looked up: the orchestrator records
 * the ARN in build.started before it starts the execution (the log holds the intent first).
 */

/** Step Functions: 1-80 characters, none of whitespace, < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : / or control characters. */
export const EXECUTION_NAME_PATTERN = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/;

export function executionName(build: { repo: string; env: string; buildId: string }): string {
  const name = `${build.repo}-${build.env}-${build.buildId}`;
  if (!EXECUTION_NAME_PATTERN.test(name)) throw new RangeError(`execution name ${JSON.stringify(name)} breaks Step Functions' naming rules`);
  return name;
}

/** arn:aws:states:<region>:<account>:stateMachine:<name> -> ...:execution:<name>:<executionName> */
export function executionArn(stateMachineArn: string, name: string): string {
  const parts = stateMachineArn.split(':');
  if (parts.length !== 7 || parts[5] !== 'stateMachine') throw new RangeError(`not a state machine ARN: ${stateMachineArn}`);
  return [...parts.slice(0, 5), 'execution', parts[6], name].join(':');
}
