/**
 * Where output goes. With --json, stdout carries exactly the data as JSON and nothing else; human
 * text goes to stdout otherwise. Notes and errors always go to stderr.
 */
export const printJson = (data: unknown): void => {
  process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
};

/** One JSON document per line, for streams (`events tail --follow --json`). */
export const printJsonLine = (data: unknown): void => {
  process.stdout.write(`${JSON.stringify(data)}\n`);
};

export const print = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

export const note = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

export const stdoutIsTty = (): boolean => process.stdout.isTTY === true;
export const stdinIsTty = (): boolean => process.stdin.isTTY === true;
