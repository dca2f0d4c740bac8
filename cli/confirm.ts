/**
 * Asks the operator to confirm on stdin. Without an answer (stdin closed, as in a script that
 * gave none) the answer is no: a destructive command never proceeds by default.
 */
import { createInterface } from 'node:readline';

/** Resolves true only when the line read is `yes` or `y`. */
export function confirm(question: string, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input, output, terminal: false });
    let answered = false;
    output.write(question);
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(['yes', 'y'].includes(line.trim().toLowerCase()));
    });
    rl.once('close', () => {
      if (!answered) resolve(false);
    });
  });
}
