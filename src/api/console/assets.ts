/**
 * The console's stylesheet and script, served from /console/static (the Content-Security-Policy
 * allows no inline script or style). Plain CSS and JS, no build step.
 */
export const CONSOLE_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f6f7f9; }
header { background: #1d2430; color: #fff; padding: .6em 1em; display: flex; gap: 1em; align-items: center; }
header nav { display: flex; gap: 1em; align-items: center; flex: 1; }
header a { color: #cfe0ff; }
header .who { margin-left: auto; color: #aab; }
main { padding: 1em 1.5em; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
tr.res-SUCCESS td:first-child { border-left: 4px solid #2e9d4f; }
tr.res-FAILURE td:first-child { border-left: 4px solid #d23b3b; }
tr.res-UNDEFINED td:first-child { border-left: 4px solid #c5cad3; }
.inline { display: inline; }
form.filters { display: flex; flex-wrap: wrap; gap: .6em; align-items: end; margin-bottom: 1em; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: #555; }
form.login { display: grid; gap: .6em; max-width: 28em; background: #fff; padding: 1em; }
.error { color: #a11; background: #fde8e8; padding: .5em .8em; }
.notice { color: #1d5c2e; background: #e6f6ea; padding: .5em .8em; }
.status { padding: .1em .5em; border-radius: 3px; color: #fff; background: var(--c, #889); }
.st-PENDING { --c: #8a94a6; } .st-SCHEDULED, .st-PREPARING, .st-PULLING, .st-PREPARED, .st-CREATING { --c: #b8860b; }
.st-RUNNING { --c: #2b7bd0; } .st-TERMINATING { --c: #7a5cc2; } .st-TERMINATED { --c: #4d5566; }
.st-ERROR { --c: #d23b3b; } .st-CANCELLED { --c: #a0a0a0; }
.status.res-SUCCESS { background: #2e9d4f; } .status.res-FAILURE { background: #d23b3b; }
svg.timeline { width: 100%; height: 28px; background: #fff; border: 1px solid #e3e6ea; }
svg.timeline rect { fill: var(--c, #889); }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 1em; font-size: 12px; }
pre.log { background: #10141b; color: #dfe6ee; padding: .8em; max-height: 32em; overflow: auto; white-space: pre-wrap; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; background: #fff; padding: .8em; }
dl.facts dt { color: #555; } dl.facts dd { margin: 0; }
meter { width: 12em; }
.pager { margin: .8em 0; display: flex; gap: 1em; }
.muted { color: #889; }
tr.suspended td { color: #889; }
.outcome-skipped, .outcome-missed, .outcome-failed { font-style: italic; }
button.danger { color: #fff; background: #c0392b; border: 0; padding: .3em .8em; }
`;

export const CONSOLE_JS = `'use strict';
(function () {
  var body = document.body;
  var TERMINAL = ['TERMINATED', 'CANCELLED'];
  function each(attr, id, f) {
    document.querySelectorAll('[' + attr + ']').forEach(function (el) {
      if (el.getAttribute(attr) === id) f(el);
    });
  }
  function update(d) {
    var result = d.result || 'UNDEFINED';
    each('data-status-of', d.sessionId, function (el) {
      el.textContent = d.status;
      el.className = 'status st-' + d.status + ' res-' + result;
    });
    each('data-row-of', d.sessionId, function (el) { el.className = 'res-' + result; });
    each('data-exit-of', d.sessionId, function (el) {
      el.textContent = d.exitCode === null || d.exitCode === undefined ? '-' : String(d.exitCode);
    });
    each('data-reason-of', d.sessionId, function (el) { el.textContent = d.reason || ''; });
  }
  var after = body.getAttribute('data-events-after');
  if (after !== null) {
    var url = '/console/events?after=' + encodeURIComponent(after);
    var only = body.getAttribute('data-session-id');
    if (only) url += '&session=' + encodeURIComponent(only);
    var es = new EventSource(url);
    es.addEventListener('status', function (e) {
      var d = JSON.parse(e.data);
      update(d);
      if (only === d.sessionId && TERMINAL.indexOf(d.status) >= 0 && body.getAttribute('data-reload-on-end') === '1') {
        body.setAttribute('data-reload-on-end', '0');
        es.close();
        window.location.reload();
      }
    });
  }
  var log = document.getElementById('log');
  if (log && log.getAttribute('data-live') === '1') {
    var cursor = '0';
    var tick = function () {
      fetch(log.getAttribute('data-src') + '?after=' + encodeURIComponent(cursor), {
        credentials: 'same-origin',
        headers: { accept: 'application/json' },
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (j) {
            if (j.logs) log.textContent += j.logs;
            cursor = j.cursor;
            if (j.more) return tick();
            if (j.ended) return;
          }
          setTimeout(tick, 1000);
        })
        .catch(function () { setTimeout(tick, 2000); });
    };
    tick();
  }
})();
`;
