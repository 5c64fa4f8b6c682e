/**
 * The release clock's thread (release-clock.ts): holds the armed start-barrier releases, sleeps
 * until the soonest one's instant (Atomics.wait, then a spin over the last millisecond) and
 * writes its `released-at` file and FIFOs itself, so a busy main event loop cannot delay it.
 * It never returns to its own event loop: messages are read synchronously from its port, and a
 * doorbell (a shared Int32) wakes its wait when one is posted. Loads nothing but node builtins.
 */
import { closeSync, constants, openSync, readlinkSync, writeFileSync, writeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { due, nextStep, type ArmedRelease } from '../../domain/release-timing.js';
import { BARRIER_WRITTEN } from '../../domain/start-barrier.js';
import { ARMED, FIRED, type ClockMessage, type FiredMessage } from './release-clock-wire.js';

interface Held extends ArmedRelease {
  id: number;
  fifos: string[];
  releasedAtFile: string;
  state: Int32Array;
}

const { port, bell } = workerData as { port: MessagePort; bell: Int32Array };

/** Above the agent's other threads (its busy main loop): best effort, as root it works. */
function raisePriority(): boolean {
  try {
    const tid = Number(/task\/(\d+)/.exec(readlinkSync('/proc/thread-self'))?.[1]);
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, -10);
    return true;
  } catch {
    // Expected without CAP_SYS_NICE (or without /proc): the thread keeps the agent's priority.
    return false;
  }
}

/**
 * Lets the command run: `released-at` first (an agent restarted midway knows), then the FIFOs,
 * then `written` (it need not ask whether the shell read its word).
 */
function fire(r: Held): FiredMessage {
  const releasedAt = Date.now();
  let written = 0;
  try {
    writeFileSync(r.releasedAtFile, String(releasedAt));
    for (const fifo of r.fifos) {
      // Succeeds only while the container's shell waits on it (ENXIO otherwise: the main loop
      // then waits for the shell, as the release always did).
      const fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      try {
        writeSync(fd, 'go\n');
      } finally {
        closeSync(fd);
      }
      written++;
    }
    // Every word written: a restarted agent need not ask whether the shell read it.
    writeFileSync(join(dirname(r.releasedAtFile), BARRIER_WRITTEN), String(Date.now()));
    return { type: 'fired', id: r.id, releasedAt, wroteAt: Date.now(), written, error: null };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { type: 'fired', id: r.id, releasedAt, wroteAt: Date.now(), written, error: e.code ?? String(e) };
  }
}

function main(): void {
  port.postMessage({ type: 'ready', raised: raisePriority() });
  const held = new Map<number, Held>();
  for (;;) {
    const rung = Atomics.load(bell, 0); // before reading: a message posted after it rings again
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      const msg = m.message as ClockMessage;
      if (msg.type === 'stop') return;
      if (msg.type === 'arm') held.set(msg.id, { ...msg, permittedAt: null });
      else if (msg.type === 'permit') {
        const r = held.get(msg.id);
        if (r) r.permittedAt = Math.max(r.permittedAt ?? 0, msg.permittedAt);
      } else held.delete(msg.id);
    }
    for (const r of held.values()) if (Atomics.load(r.state, 0) !== ARMED) held.delete(r.id);
    const now = Date.now();
    const step = nextStep([...held.values()], now);
    if (step.kind === 'fire') {
      const ready = [...held.values()].filter((r) => due(r, now)).sort((a, b) => a.at - b.at);
      for (const r of ready) {
        held.delete(r.id);
        // The main loop cancels with the same exchange: exactly one of the two wins.
        if (Atomics.compareExchange(r.state, 0, ARMED, FIRED) === ARMED) port.postMessage(fire(r));
      }
    } else if (step.kind === 'wait') {
      Atomics.wait(bell, 0, rung, step.ms ?? 60_000);
    }
    // 'spin': loop again at once, re-reading the clock.
  }
}

main();
port.close();
