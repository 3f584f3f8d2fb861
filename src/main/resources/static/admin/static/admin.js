// The admin pages' only script (the CSP allows no inline script): live updates from /admin/events (SSE, one
// snapshot a second), the cache heatmap and eviction chart, and the retention view. No library, nothing
// fetched from elsewhere.
'use strict';

(function () {
  function get(object, path) {
    return path.split('.').reduce(function (o, key) { return o == null ? undefined : o[key]; }, object);
  }

  function format(value, how, suffix) {
    if (value === null || value === undefined || (typeof value === 'number' && !isFinite(value))) {
      return '-';
    }
    var text;
    if (how === 'onoff') {
      text = value ? 'on' : 'off';
    } else if (how === 'list') {
      text = value.length ? value.join(', ') : 'none';
    } else if (how === '1' || how === '2') {
      text = Number(value).toFixed(Number(how));
    } else {
      text = String(value);
    }
    return text + (suffix || '');
  }

  function updateFields(snapshot) {
    document.querySelectorAll('[data-field]').forEach(function (el) {
      el.textContent = format(get(snapshot, el.dataset.field), el.dataset.format, el.dataset.suffix);
    });
    var meter = document.getElementById('pool-meter');
    if (meter) {
      meter.value = snapshot.overview.poolUsage;
    }
  }

  function cell(row, text) {
    var td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '' : String(text);
    row.appendChild(td);
    return td;
  }

  function fillRequests(id, rows, showPrompts) {
    var body = document.querySelector('#' + id + ' tbody');
    if (!body) {
      return;
    }
    body.replaceChildren();
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      [r.id, r.requestId, r.state, r.promptTokens, r.generatedTokens, r.liveKv, r.storedKv, r.pages,
        format(r.compression, '2', '×')].forEach(function (v) { cell(tr, v); });
      if (showPrompts) {
        cell(tr, r.prompt);
      }
      body.appendChild(tr);
    });
  }

  function fillAudit(entries) {
    var body = document.querySelector('#audit tbody');
    if (!body) {
      return;
    }
    body.replaceChildren();
    entries.forEach(function (a) {
      var tr = document.createElement('tr');
      [a.at, a.user, a.field, a.oldValue, a.newValue].forEach(function (v) { cell(tr, v); });
      body.appendChild(tr);
    });
  }

  function heatmap(cache) {
    var map = document.getElementById('heatmap');
    if (!map) {
      return;
    }
    var max = 1;
    cache.live.forEach(function (row) { row.forEach(function (v) { max = Math.max(max, v); }); });
    if (map.childElementCount !== cache.layers * (cache.kvHeads + 1) + cache.kvHeads + 1) {
      map.replaceChildren();
      // CSSOM, not a style attribute: allowed by the CSP.
      map.style.gridTemplateColumns = 'auto repeat(' + cache.kvHeads + ', minmax(2.5em, 1fr))';
      var corner = document.createElement('div');
      corner.className = 'hm-label';
      corner.textContent = 'layer \\ head';
      map.appendChild(corner);
      for (var h = 0; h < cache.kvHeads; h++) {
        var head = document.createElement('div');
        head.className = 'hm-label';
        head.textContent = 'h' + h;
        map.appendChild(head);
      }
      for (var l = 0; l < cache.layers; l++) {
        var label = document.createElement('div');
        label.className = 'hm-label';
        label.textContent = 'L' + l;
        map.appendChild(label);
        for (var k = 0; k < cache.kvHeads; k++) {
          var c = document.createElement('div');
          c.className = 'hm-cell';
          c.id = 'cell-' + l + '-' + k;
          map.appendChild(c);
        }
      }
    }
    cache.live.forEach(function (row, l) {
      row.forEach(function (v, h) {
        var c = document.getElementById('cell-' + l + '-' + h);
        var share = v / max;
        c.textContent = String(v);
        c.title = 'layer ' + l + ', KV head ' + h + ': ' + v + ' live tokens';
        c.style.backgroundColor = 'hsl(210, 80%, ' + (96 - 60 * share).toFixed(0) + '%)';
        c.style.color = share > 0.6 ? '#fff' : '#123';
      });
    });
  }

  function layerTable(cache) {
    document.querySelectorAll('#layers tr[data-layer]').forEach(function (tr) {
      var l = Number(tr.dataset.layer);
      var live = cache.live[l].reduce(function (a, b) { return a + b; }, 0);
      tr.querySelector('.layer-live').textContent = String(live);
      tr.querySelector('.layer-compression').textContent = format(cache.compression[l], '2', '×');
      tr.querySelector('.layer-rate').textContent = format(cache.evictionRate[l], '1');
    });
  }

  function chart(cache) {
    var canvas = document.getElementById('eviction-chart');
    if (!canvas || !canvas.getContext) {
      return;
    }
    var g = canvas.getContext('2d');
    var w = canvas.width, h = canvas.height, pad = 36;
    g.clearRect(0, 0, w, h);
    var series = cache.evictionHistory;
    var points = series.length ? series[0].length : 0;
    var max = 1;
    series.forEach(function (s) { s.forEach(function (v) { max = Math.max(max, v); }); });
    g.strokeStyle = '#999';
    g.fillStyle = '#333';
    g.font = '11px sans-serif';
    g.beginPath();
    g.moveTo(pad, 8);
    g.lineTo(pad, h - pad);
    g.lineTo(w - 8, h - pad);
    g.stroke();
    g.fillText(max.toFixed(0) + '/s', 2, 14);
    g.fillText('0', 20, h - pad);
    g.fillText('-' + (points * cache.bucketSeconds) + ' s', pad, h - pad + 14);
    g.fillText('now', w - 30, h - pad + 14);
    if (points < 2) {
      g.fillText('collecting…', w / 2 - 30, h / 2);
      return;
    }
    series.forEach(function (s, l) {
      g.strokeStyle = 'hsl(' + Math.round(360 * l / series.length) + ', 65%, 45%)';
      g.beginPath();
      s.forEach(function (v, i) {
        var x = pad + (w - pad - 8) * i / (points - 1);
        var y = h - pad - (h - pad - 8) * v / max;
        if (i === 0) { g.moveTo(x, y); } else { g.lineTo(x, y); }
      });
      g.stroke();
    });
  }

  function connect() {
    var indicator = document.getElementById('live');
    if (!indicator || !window.EventSource) {
      return;
    }
    var page = document.body.dataset.page;
    var showPrompts = document.body.dataset.showPrompts === 'true';
    var source = new EventSource('/admin/events');
    source.addEventListener('snapshot', function (event) {
      var snapshot = JSON.parse(event.data);
      updateFields(snapshot);
      if (page === 'cache') {
        heatmap(snapshot.cache);
        layerTable(snapshot.cache);
        chart(snapshot.cache);
      } else if (page === 'requests') {
        fillRequests('active', snapshot.running, showPrompts);
        fillRequests('recent', snapshot.recent, showPrompts);
      } else if (page === 'settings') {
        fillAudit(snapshot.audit);
      }
      indicator.textContent = 'live ' + new Date(snapshot.at).toLocaleTimeString();
      indicator.className = 'live on';
    });
    source.onerror = function () {
      indicator.textContent = 'reconnecting…';
      indicator.className = 'live off';
    };
  }

  function retention() {
    var section = document.getElementById('retention');
    if (!section || !section.dataset.retention) {
      return;
    }
    var data = JSON.parse(section.dataset.retention);
    var layer = document.getElementById('layer');
    var head = document.getElementById('head');
    for (var l = 0; l < data.layers; l++) {
      layer.appendChild(new Option('L' + l, String(l)));
    }
    for (var k = 0; k < data.kvHeads; k++) {
      head.appendChild(new Option('h' + k, String(k)));
    }
    document.getElementById('generated').textContent = data.generated;
    function render() {
      var l = Number(layer.value), k = Number(head.value);
      var entry = data.heads[l][k];
      var threshold = data.thresholds[l];
      var tokens = document.getElementById('tokens');
      tokens.replaceChildren();
      var forgotten = 0;
      data.tokens.forEach(function (text, i) {
        var span = document.createElement('span');
        var held = entry.held.charAt(i) === '1';
        var logit = entry.logits[i];
        var flagged = logit !== null && threshold !== null && logit > threshold;
        span.className = 'tok ' + (held ? (flagged ? 'flagged' : 'held') : 'gone');
        span.textContent = text;
        span.dataset.position = String(i);
        span.title = 'token ' + i + (i >= data.promptTokens ? ' (generated)' : '') + ': '
          + (held ? 'held' : 'forgotten') + '; decision logit '
          + (logit === null ? 'not decided yet' : logit.toFixed(3)) + ' (threshold '
          + (threshold === null ? 'none' : threshold) + ')';
        if (!held) {
          forgotten++;
        }
        tokens.appendChild(span);
      });
      document.getElementById('retention-summary').textContent = entry.live + ' of ' + data.tokens.length
        + ' tokens held, ' + forgotten + ' forgotten (window ' + data.window + ')';
    }
    layer.addEventListener('change', render);
    head.addEventListener('change', render);
    render();
  }

  document.addEventListener('DOMContentLoaded', function () {
    connect();
    retention();
  });
}());
