// skynomad dashboard: live updates on top of server-rendered pages. The
// pages work without it. It follows /events (server-sent job changes) and
// refetches only the fragments that changed; user text only ever reaches
// the page as server-escaped HTML or through textContent / text nodes.
(function () {
  'use strict';

  var root = document.querySelector('[data-page]');
  if (!root || !window.EventSource || !window.fetch) return;

  // html parses a server-rendered fragment (a <tr> too) into an element.
  function html(text) {
    var t = document.createElement('template');
    t.innerHTML = text.trim();
    return t.content.firstElementChild;
  }

  function get(url) {
    return fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } });
  }

  // follow calls onJob for every job change; a reader that fell behind
  // reloads the page.
  function follow(onJob) {
    var es = new EventSource('/events' + (root.dataset.seq ? '?since=' + encodeURIComponent(root.dataset.seq) : ''));
    es.addEventListener('job', function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (err) { return; }
      if (ev && Number.isInteger(ev.id) && ev.id > 0) onJob(ev);
    });
    es.addEventListener('reload', function () { location.reload(); });
    window.addEventListener('pagehide', function () { es.close(); });
  }

  // batcher gathers keys for a while, then hands them over at once.
  function batcher(delay, run) {
    var keys = new Set(), timer = null;
    return function (key) {
      keys.add(key);
      if (timer) return;
      timer = setTimeout(function () {
        var batch = Array.from(keys);
        keys.clear();
        timer = null;
        run(batch);
      }, delay);
    };
  }

  function jobsPage() {
    var tbody = document.querySelector('#jobs tbody');
    if (!tbody) return;
    var query = root.dataset.query || '';
    var insert = root.dataset.insert === '1';
    var size = parseInt(root.dataset.size, 10) || 50;

    var countsBusy = false, countsAgain = false, countsLast = 0;
    function refreshCounts() {
      if (countsBusy) { countsAgain = true; return; }
      var wait = Math.max(0, countsLast + 1000 - Date.now());
      countsBusy = true;
      setTimeout(function () {
        countsLast = Date.now();
        get('/jobs/counts?' + query).then(function (r) {
          return r.ok ? r.text() : null;
        }).then(function (text) {
          var el = document.getElementById('counts');
          if (text && el) el.replaceWith(html(text));
        }).catch(function () {}).finally(function () {
          countsBusy = false;
          if (countsAgain) { countsAgain = false; refreshCounts(); }
        });
      }, wait);
    }

    function rowOf(id) { return tbody.querySelector('tr[data-job-id="' + id + '"]'); }

    function place(tr, id) {
      var rows = tbody.querySelectorAll('tr[data-job-id]');
      var before = null;
      for (var i = 0; i < rows.length; i++) {
        if (parseInt(rows[i].dataset.jobId, 10) < id) { before = rows[i]; break; }
      }
      if (!before && rows.length >= size) return; // it belongs on a later page
      tbody.insertBefore(tr, before);
      var empty = tbody.querySelector('tr.empty');
      if (empty) empty.remove();
      var all = tbody.querySelectorAll('tr[data-job-id]');
      for (var k = size; k < all.length; k++) all[k].remove();
    }

    // belongsHere: a job not shown is fetched only when it would sort
    // onto this page (page 1, newest first).
    function belongsHere(id) {
      if (!insert) return false;
      var rows = tbody.querySelectorAll('tr[data-job-id]');
      return rows.length < size || id > parseInt(rows[rows.length - 1].dataset.jobId, 10);
    }

    function update(id) {
      var row = rowOf(id);
      if (!row && !belongsHere(id)) return Promise.resolve();
      return get('/jobs/' + id + '/row?' + query).then(function (r) {
        if (r.status === 204 || r.status === 404) {
          var gone = rowOf(id);
          if (gone) gone.remove();
          return null;
        }
        return r.ok ? r.text() : null;
      }).then(function (text) {
        if (!text) return;
        var tr = html(text);
        if (!tr) return;
        var current = rowOf(id);
        if (current) current.replaceWith(tr);
        else if (insert) place(tr, id);
      }).catch(function () {});
    }

    var changed = batcher(250, function (ids) {
      Promise.all(ids.map(update)).then(refreshCounts);
    });
    follow(function (ev) {
      if (!ev.worker) changed(ev.id);
    });
  }

  function jobPage() {
    var id = root.dataset.jobId;
    var changed = batcher(250, function () {
      get('/jobs/' + id + '/summary').then(function (r) {
        return r.ok ? r.text() : null;
      }).then(function (text) {
        var el = document.getElementById('summary');
        if (text && el) el.replaceWith(html(text));
      }).catch(function () {});
    });
    follow(function (ev) {
      if (String(ev.id) === id) changed(ev.id);
    });
    streamLog();
  }

  // streamLog replaces the rendered tail of #log with the live stream.
  function streamLog() {
    var pre = document.getElementById('log');
    if (!pre || !pre.dataset.stream) return;
    var box = document.getElementById('follow');
    var label = document.getElementById('follow-label');
    var state = document.getElementById('log-state');
    if (label) label.hidden = false;
    var maxLines = 20000;
    function bottom() {
      if (box && box.checked) pre.scrollTop = pre.scrollHeight;
    }
    bottom();
    var es = new EventSource(pre.dataset.stream);
    es.addEventListener('start', function () {
      pre.textContent = '';
      if (state) state.textContent = 'live';
    });
    es.onmessage = function (e) {
      pre.appendChild(document.createTextNode(e.data + '\n'));
      while (pre.childNodes.length > maxLines) pre.removeChild(pre.firstChild);
      bottom();
    };
    es.addEventListener('logerror', function (e) {
      if (state) state.textContent = 'log stream failed: ' + e.data;
    });
    es.addEventListener('end', function () {
      es.close();
      if (state) state.textContent = 'ended';
    });
    if (box) box.addEventListener('change', bottom);
    window.addEventListener('pagehide', function () { es.close(); });
  }

  if (root.dataset.page === 'jobs') jobsPage();
  else if (root.dataset.page === 'job') jobPage();
})();
