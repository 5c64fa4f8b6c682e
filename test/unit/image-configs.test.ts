import test from 'ava';
import type { ImageConfig } from '../../src/docker/docker-adapter.js';
import { DockerError } from '../../src/docker/docker-errors.js';
import { ImageConfigs, lacksImage } from '../../src/workers/agent/image-configs.js';

const CONFIG: ImageConfig = { labels: {}, entrypoint: null, cmd: ['python3'] };

/** An engine's image inspect by hand: the refs it has, and the calls it was asked. */
function engine(has: Set<string>) {
  const asked: string[] = [];
  return {
    asked,
    imageConfig: (ref: string) => {
      asked.push(ref);
      return Promise.resolve(has.has(ref) ? CONFIG : null);
    },
  };
}

test('an image found is asked for once within the window, again after it', async (t) => {
  let now = 1_000;
  const e = engine(new Set(['python:3']));
  const images = new ImageConfigs(e, 2_000, () => now);
  t.deepEqual(await images.get('python:3'), { config: CONFIG, cached: false });
  now += 1_999;
  t.deepEqual(await images.get('python:3'), { config: CONFIG, cached: true });
  now += 1;
  t.deepEqual(await images.get('python:3'), { config: CONFIG, cached: false });
  t.deepEqual(e.asked, ['python:3', 'python:3']);
});

test('an image not there is asked for every time, another tag is another image', async (t) => {
  const has = new Set(['python:3']);
  const e = engine(has);
  const images = new ImageConfigs(e, 2_000, () => 0);
  t.is((await images.get('python:4')).config, null);
  t.is((await images.get('python:4')).config, null);
  has.add('python:4'); // pulled
  t.deepEqual(await images.get('python:4'), { config: CONFIG, cached: false });
  await images.get('python:3');
  t.deepEqual(e.asked, ['python:4', 'python:4', 'python:4', 'python:3']);
});

test('a forgotten image is asked for again (the create said the engine lacks it)', async (t) => {
  const has = new Set(['python:3']);
  const e = engine(has);
  const images = new ImageConfigs(e, 2_000, () => 0);
  await images.get('python:3');
  has.delete('python:3');
  images.forget('python:3');
  t.deepEqual(await images.get('python:3'), { config: null, cached: false });
  t.is(e.asked.length, 2);
});

test('lacksImage: a 404 about the image, not another 404', (t) => {
  t.true(lacksImage(new DockerError('create container x: No such image: python:3', 404)));
  t.false(lacksImage(new DockerError('create container x: network bai-1 not found', 404)));
  t.false(lacksImage(new DockerError('create container x: No such image: python:3', 500)));
});
