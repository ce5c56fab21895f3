/**
 * How a load command runs from the shell: SIGINT or SIGTERM aborts the signal it is given (the
 * command stops what it started and this exits 130), an error ends it with its message and exit
 * 1, otherwise it exits with the code the command returns. `say` writes progress to stderr.
 */
export const say = (line: string): void => void process.stderr.write(`${line}\n`);

export function runCommand(label: string, main: (signal: AbortSignal) => Promise<number>, interruptedNote = ''): void {
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  main(interrupt.signal).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      if (interrupt.signal.aborted) {
        say(`${label}: interrupted${interruptedNote ? ` (${interruptedNote})` : ''}`);
        process.exitCode = 130;
        return;
      }
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
