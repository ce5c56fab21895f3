/** The SNS door's parsing against the stack's regions, and the defaults it fills in from them. */
import { describe, expect, it } from 'vitest';
import { ConfigError, intakeDefaults, InvalidMessageError } from '@flotilla/platform';
import { parseIntakeMessage } from '../src/handlers/intake.ts';

const stackRegions = ['us-east-1', 'eu-west-1'];
const message = (fields: Record<string, unknown>) =>
  JSON.stringify({ type: 'build.requested', requestId: 'req-1', repo: 'checkout', env: 'prod', version: '1.0.0', branch: 'main', commit: 'abc1234', ...fields });

describe('an intake message', () => {
  const defaults = intakeDefaults({ DEFAULT_HOSTS_PER_REGION: 5 }, stackRegions);

  it('gets every region of the stack when it names none', () => {
    expect(parseIntakeMessage(message({}), stackRegions, defaults)).toMatchObject({ kind: 'build', request: { regions: stackRegions, hostsPerRegion: 5 } });
  });

  it('is refused, naming the regions the stack has, when it names a known region the stack was deployed without', () => {
    expect(() => parseIntakeMessage(message({ regions: ['us-east-1', 'sa-east-1'] }), stackRegions, defaults)).toThrow(InvalidMessageError);
    expect(() => parseIntakeMessage(message({ regions: ['us-east-1', 'sa-east-1'] }), stackRegions, defaults)).toThrow(/regions\.1: must be one of: us-east-1, eu-west-1/);
  });
});

describe('a message of another kind on the intake topic', () => {
  const defaults = intakeDefaults({ DEFAULT_HOSTS_PER_REGION: 5 }, stackRegions);
  const report = { type: 'testrun.region_ready', runId: '01JZ0000000000000000000000', region: 'us-east-1', task: 'task-1' };

  it("is a runner's report when its type is one, parsed by the report's schema", () => {
    expect(parseIntakeMessage(JSON.stringify(report), stackRegions, defaults)).toEqual({ kind: 'runner-report', report });
    expect(() => parseIntakeMessage(JSON.stringify({ ...report, task: '' }), stackRegions, defaults)).toThrow(/task/);
  });

  it('is refused, naming its type, when it is neither', () => {
    expect(() => parseIntakeMessage(JSON.stringify({ type: 'build.cancelled', requestId: 'r' }), stackRegions, defaults)).toThrow(/invalid intake message: type/);
  });
});

describe('the intake defaults', () => {
  it('take DEFAULT_REGIONS when every one is in the stack', () => {
    expect(intakeDefaults({ DEFAULT_REGIONS: ['eu-west-1'], DEFAULT_HOSTS_PER_REGION: 1 }, stackRegions)).toEqual({ regions: ['eu-west-1'], hostsPerRegion: 1 });
  });

  it('fail at start when DEFAULT_REGIONS names a region the stack lacks', () => {
    expect(() => intakeDefaults({ DEFAULT_REGIONS: ['sa-east-1'], DEFAULT_HOSTS_PER_REGION: 1 }, stackRegions)).toThrow(ConfigError);
    expect(() => intakeDefaults({ DEFAULT_REGIONS: ['sa-east-1'], DEFAULT_HOSTS_PER_REGION: 1 }, stackRegions)).toThrow(/DEFAULT_REGIONS names sa-east-1, which the stack does not have \(it has us-east-1, eu-west-1\)/);
  });
});
