import test from 'ava';
import { Readable } from 'node:stream';
import { DockerDemux } from '../../src/docker/log-demux.js';
import {
  OutputTail,
  decodeTail,
  dockerLogOptions,
  splitMarker,
  storedOutput,
  truncationMarker,
} from '../../src/domain/output-tail.js';

test('OutputTail keeps exactly the last bytes, whatever the chunk sizes, and counts the total', (t) => {
  const all = Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join('');
  for (const limit of [1, 7, 100, 4096, all.length, all.length + 10]) {
    for (const step of [1, 3, 64, 1000, 100_000]) {
      const tail = new OutputTail(limit);
      for (let i = 0; i < all.length; i += step) tail.push(all.slice(i, i + step));
      t.is(tail.totalBytes, all.length);
      t.is(tail.truncated, all.length > limit);
      t.is(tail.text(), all.slice(Math.max(0, all.length - limit)), `limit ${limit} step ${step}`);
    }
  }
});

test('OutputTail holds at most twice its limit however much is pushed', (t) => {
  const tail = new OutputTail(1024);
  const chunk = Buffer.alloc(700, 'x');
  for (let i = 0; i < 10_000; i++) tail.push(chunk);
  t.is(tail.totalBytes, 7_000_000);
  t.is(Buffer.byteLength(tail.text()), 1024);
});

test('a tail cut inside a UTF-8 character drops the piece instead of garbling it', (t) => {
  const tail = new OutputTail(4);
  tail.push('aé€'); // 1 + 2 + 3 bytes: the last 4 start inside é
  t.is(tail.text(), '€');
  t.is(decodeTail(Buffer.from('€'), false), '€');
});

test('the marker opens a truncated output and splits off again', (t) => {
  const stored = truncationMarker(4096) + 'tail\n';
  t.is(stored, '[bai: output truncated, last 4096 bytes follow]\ntail\n');
  t.is(splitMarker(stored, true), 'tail\n');
  t.is(
    splitMarker('[bai: output truncated is what I print]\n', false),
    '[bai: output truncated is what I print]\n',
  );
});

test('a stored output opens with the marker only when truncated, and splits back to its tail', (t) => {
  t.is(storedOutput({ text: 'all of it\n', truncated: false }, 10), 'all of it\n');
  const stored = storedOutput({ text: 'the end\n', truncated: true }, 8);
  t.is(stored, truncationMarker(8) + 'the end\n');
  t.is(splitMarker(stored, true), 'the end\n');
});

test('Docker log options bound the engine copy: two files, twice the limit, 1 MiB at least', (t) => {
  t.deepEqual(dockerLogOptions(4 * 1024 * 1024), { 'max-size': String(8 * 1024 * 1024), 'max-file': '2' });
  t.deepEqual(dockerLogOptions(4096), { 'max-size': String(1024 * 1024), 'max-file': '2' });
});

function frame(kind: number, text: string): Buffer {
  const body = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = kind;
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
}

async function demux(chunks: Buffer[]): Promise<string> {
  const out: Buffer[] = [];
  for await (const b of Readable.from(chunks).pipe(new DockerDemux())) out.push(b as Buffer);
  return Buffer.concat(out).toString();
}

test('DockerDemux joins frames of stdout and stderr, across any chunk boundary', async (t) => {
  const all = Buffer.concat([frame(1, 'hello '), frame(2, 'err '), frame(1, 'world\n'), frame(1, '')]);
  for (const step of [1, 3, 8, 9, 1000]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < all.length; i += step) chunks.push(all.subarray(i, i + step));
    t.is(await demux(chunks), 'hello err world\n', `step ${step}`);
  }
});

test('DockerDemux passes a TTY stream (no headers) through', async (t) => {
  t.is(await demux([Buffer.from('plain output\n'), Buffer.from('more\n')]), 'plain output\nmore\n');
  t.is(await demux([Buffer.from('hi\n')]), 'hi\n');
});
