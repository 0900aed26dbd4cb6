#!/usr/bin/env node
import { reportError } from './errors.js';
import { buildProgram } from './program.js';

// `threadloom list | head` closes the pipe early; that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  // exitCode rather than process.exit(): output still buffered for a pipe must be flushed first.
  process.exitCode = reportError(err);
}
