import test from 'ava';
import { liveCopyHoldsAll, liveCopyNeedsTail, type LiveCopyAtExit } from '../../src/domain/live-copy-end.js';

const whole: LiveCopyAtExit = {
  drained: true,
  endsRight: true,
  copiedBytes: 13_890,
  tailBytes: 13_890,
  tailTruncated: false,
};

test('a copy that reached the end and ends like the output is left as it is', (t) => {
  t.false(liveCopyNeedsTail(whole));
  t.false(liveCopyNeedsTail({ ...whole, drained: undefined }));
});

test('a copy that does not end like the output is ended with the tail, however it drained', (t) => {
  t.true(liveCopyNeedsTail({ ...whole, endsRight: false }));
  t.true(liveCopyNeedsTail({ ...whole, endsRight: false, drained: false }));
  t.true(liveCopyNeedsTail({ ...whole, endsRight: false, drained: undefined, copiedBytes: 0 }));
});

test('a copy whose stream ended late but holds the whole output is not given it twice', (t) => {
  t.false(liveCopyNeedsTail({ ...whole, drained: false }));
});

test('a copy whose stream did not end in time is ended with the tail unless it provably holds all', (t) => {
  t.true(liveCopyNeedsTail({ ...whole, drained: false, copiedBytes: 9_000 }));
  t.true(liveCopyNeedsTail({ ...whole, drained: false, tailTruncated: true }));
  t.true(liveCopyNeedsTail({ ...whole, drained: false, copiedBytes: 20_000 }));
});

test('a copy holds the whole output by its count only when it is known, equal and nothing was cut', (t) => {
  t.true(liveCopyHoldsAll(13_890, { bytes: 13_890, truncated: false }));
  t.true(liveCopyHoldsAll(0, { bytes: 0, truncated: false }));
  t.false(liveCopyHoldsAll(null, { bytes: 0, truncated: false }));
  t.false(liveCopyHoldsAll(9_000, { bytes: 13_890, truncated: false }));
  t.false(liveCopyHoldsAll(20_000, { bytes: 13_890, truncated: false }));
  t.false(liveCopyHoldsAll(13_890, { bytes: 13_890, truncated: true }));
});
