/** Step Functions executions: start once (a repeat is "already started"), stop, and read their status. */
import { DescribeExecutionCommand, ExecutionAlreadyExists, GetExecutionHistoryCommand, StartExecutionCommand, StopExecutionCommand, type ExecutionStatus, type SFNClient } from '@aws-sdk/client-sfn';

export async function startExecutionOnce(sfn: SFNClient, request: { stateMachineArn: string; name: string; input: unknown }): Promise<'started' | 'already-started'> {
  try {
    await sfn.send(new StartExecutionCommand({ stateMachineArn: request.stateMachineArn, name: request.name, input: JSON.stringify(request.input) }));
    return 'started';
  } catch (error) {
    // AWS answers this only for a different input; the emulator for any repeat (docs/local-aws.md).
    // Either way an execution of this name exists, and names are per build: it is ours.
    if (error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists') return 'already-started';
    throw error;
  }
}

export async function executionStatus(
  sfn: SFNClient,
  executionArn: string,
): Promise<{ status: ExecutionStatus | 'NOT_FOUND'; error?: string | undefined; cause?: string | undefined; startDate?: Date | undefined; stopDate?: Date | undefined }> {
  try {
    const out = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return { status: out.status ?? 'RUNNING', error: out.error, cause: out.cause, startDate: out.startDate, stopDate: out.stopDate };
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') return { status: 'NOT_FOUND' };
    throw error;
  }
}

/**
 * Stops a running execution. Idempotent: an execution that has already ended, or was never
 * started (a build cancelled before its StartExecution), is left as it is.
 */
export async function stopExecution(sfn: SFNClient, request: { executionArn: string; error: string; cause: string }): Promise<'stopped' | 'not-running'> {
  const { status } = await executionStatus(sfn, request.executionArn);
  if (status !== 'RUNNING') return 'not-running';
  try {
    await sfn.send(new StopExecutionCommand({ executionArn: request.executionArn, error: request.error, cause: request.cause }));
    return 'stopped';
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') return 'not-running';
    throw error;
  }
}

export interface ExecutionState {
  status: ExecutionStatus | 'NOT_FOUND';
  startedAt?: string | undefined;
  stoppedAt?: string | undefined;
  /** The state entered last and not yet exited (for a Map, the latest iteration's), with when. */
  currentState?: { name: string; enteredAt: string } | undefined;
  error?: string | undefined;
  cause?: string | undefined;
}

/**
 * Where an execution is now: its status, and from its history (newest first) the state it
 * entered last without leaving it yet. That is the step a stuck build is waiting on.
 */
export async function executionState(sfn: SFNClient, executionArn: string): Promise<ExecutionState> {
  const described = await executionStatus(sfn, executionArn);
  if (described.status === 'NOT_FOUND') return { status: 'NOT_FOUND' };
  const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 100 }));
  // Newest first: each exit seen is owed an entry further down; an entry nobody owes is still open.
  // Counted per name, because a Map runs the same state once per region.
  const exitsOwed = new Map<string, number>();
  let currentState: ExecutionState['currentState'];
  for (const event of history.events ?? []) {
    const exit = event.stateExitedEventDetails?.name;
    if (exit) exitsOwed.set(exit, (exitsOwed.get(exit) ?? 0) + 1);
    const entered = event.stateEnteredEventDetails?.name;
    if (!entered) continue;
    const owed = exitsOwed.get(entered) ?? 0;
    if (owed > 0) exitsOwed.set(entered, owed - 1);
    else {
      currentState = { name: entered, enteredAt: (event.timestamp ?? new Date(0)).toISOString() };
      break;
    }
  }
  return {
    status: described.status,
    startedAt: described.startDate?.toISOString(),
    stoppedAt: described.stopDate?.toISOString(),
    currentState,
    error: described.error,
    cause: described.cause,
  };
}
