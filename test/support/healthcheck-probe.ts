// Runs a compose healthcheck's bash script (a `/dev/tcp/127.0.0.1/<port>` check, as compose gives
// the alert webhook and the replicas) against a local port instead, as Docker would run it.
import { spawn } from 'node:child_process';

/** The script's exit status with its port replaced by `port`; killed after 10 s (Docker's timeout is shorter). */
export function probeHealthcheck(script: string, port: number): Promise<number | null> {
  const local = script.replace(/\/dev\/tcp\/127\.0\.0\.1\/\d+/, `/dev/tcp/127.0.0.1/${port}`);
  if (local === script) throw new Error(`not a /dev/tcp/127.0.0.1/<port> check: ${script}`);
  // Asynchronous: the server answering it may run in the caller's process.
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', local], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}
