// The planner: coverage grid and uncovered areas on the map, coverage by district, the
// 24-hour table, a siting plan with marginal gains, and downloads. Contract: web/coverage_api.py.
(function () {
  "use strict";
  var WM = window.WM;
  var cfg = WM.cfg;
  var urls = cfg.planner_urls;
  var t = WM.i18n.t;
  var el = WM.el;
  var $ = function (id) { return document.getElementById(id); };
  var body = document.body;
  body.dataset.state = "loading";

  var map = window[cfg.map.map];
  map.attributionControl.setPrefix(false);
  var app = WM.planner = { map: map, coverage: null, gaps: null, plan: null };
  var basemaps = app.basemaps = new WM.Basemaps(map, cfg.map.basemaps, function () { redraw(); });

  var layers = app.layers = { grid: null, gaps: null, boundaries: null, facilities: null, sites: L.layerGroup(),
    reports: null, suggestions: null };
  var data = { districts: null, facilities: null, reports: null };

  function geo(fc, style, extra) {
    return L.geoJSON(fc, Object.assign({ coordsToLatLng: function (c) { return basemaps.toMap(c[0], c[1]); }, style: style }, extra || {}));
  }
  function toggle(name, layer) {
    var box = $("l-" + name);
    if (layer && box.checked) { layer.addTo(map); }
    box.addEventListener("change", function () {
      var l = layers[name];
      if (!l) { return; }
      if (box.checked) { l.addTo(map); } else { map.removeLayer(l); }
    });
  }
  function place(name, layer) {
    if (layers[name] && map.hasLayer(layers[name])) { map.removeLayer(layers[name]); }
    layers[name] = layer;
    if (layer && $("l-" + name).checked) { layer.addTo(map); }
  }
  ["grid", "gaps", "boundaries", "facilities", "sites", "reports", "suggestions"].forEach(function (n) { toggle(n, null); });

  // -- parameters shared by coverage, grid.png, hours, gaps, the plan and the report ----------------
  function qingdaoDate() {
    try { return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date()); } catch (e) { return new Date().toISOString().slice(0, 10); }
  }
  function params() {
    var q = new URLSearchParams();
    q.set("mode", $("c-mode").value);
    q.set("minutes", $("c-minutes").value || "15");
    q.set("kind", $("c-kind").value);
    if ($("c-amenity").value) { q.set("amenity", $("c-amenity").value); }
    if ($("c-worker").value) { q.set("worker", $("c-worker").value); }
    if ($("c-open-at").value) { q.set("open_at", qingdaoDate() + "T" + $("c-open-at").value); }
    if ($("c-district").value) { q.set("district", $("c-district").value); }
    return q;
  }
  app.params = params;
  // The siting options: POST /plan's body and the report's query carry the same ones (the report shows the plan
  // the page shows).
  function planParams() {
    var q = params();
    q.set("add", String(Number($("p-add").value || 10)));
    q.set("demand", $("p-demand").value);
    q.set("min_spacing_m", String(Number($("p-spacing").value || 0)));
    q.set("method", "greedy");
    return q;
  }
  app.planParams = planParams;

  function pct(v) { return v === null || v === undefined ? t("none") : Number(v).toFixed(1) + "%"; }
  function num(v) { return v === null || v === undefined ? t("none") : Math.round(v).toLocaleString(WM.i18n.lang === "en" ? "en" : "zh-CN"); }
  function meterCell(v) {
    var td = el("td");
    var w = Math.max(0, Math.min(100, Number(v) || 0));
    var bar = el("span", { class: "meter", "aria-hidden": "true" });
    bar.style.width = Math.round(w * 0.6) + "px";
    td.appendChild(bar);
    td.appendChild(document.createTextNode(pct(v)));
    return td;
  }
  function districtRow(d, isCity) {
    var name = isCity ? t("city") : d.name;
    return el("tr", { "data-adcode": d.adcode }, [
      el("th", { scope: "row", text: name }), meterCell(d.area_covered_pct), meterCell(d.residents_covered_pct),
      meterCell(d.workers_covered_pct), el("td", { text: num(d.uncovered_workers) })
    ]);
  }

  function renderCoverage() {
    var c = app.coverage;
    var tb = $("district-table").tBodies[0];
    tb.textContent = "";
    var tf = $("district-table").tFoot;
    tf.textContent = "";
    if (!c) { return; }
    (c.districts || []).forEach(function (d) { tb.appendChild(districtRow(d, false)); });
    if (c.city) { tf.appendChild(districtRow(c.city, true)); }
    var a = c.assumptions || {};
    var parts = Object.keys(a).filter(function (k) { return typeof a[k] !== "object"; }).map(function (k) { return k + "=" + a[k]; });
    $("assumptions").textContent = t("assumptions") + ": " + parts.join(", ") +
      (c.demand_source ? " · " + t("source") + ": " + (typeof c.demand_source === "string" ? c.demand_source : JSON.stringify(c.demand_source)) : "");
  }

  function renderHours(rows) {
    var box = $("hours-table");
    box.textContent = "";
    if (!Array.isArray(rows)) { rows = rows && (rows.hours || rows.rows) || []; }
    if (!rows.length) { return; }
    var table = el("table", { class: "hours-table" }, [
      el("thead", {}, [el("tr", {}, [el("th", { scope: "col", text: t("hour") }), el("th", { scope: "col", text: t("facilities") }),
        el("th", { scope: "col", text: t("d_workers") }), el("th", { scope: "col", text: t("d_res") })])]),
      el("tbody", {}, rows.map(function (r) {
        return el("tr", {}, [el("th", { scope: "row", text: r.hour }), el("td", { text: num(r.open_facilities) }),
          meterCell(r.workers_covered_pct), meterCell(r.residents_covered_pct)]);
      }))
    ]);
    box.appendChild(table);
  }

  function gridOverlay(grid) {
    if (!grid || !grid.png || !grid.bounds) { return null; }
    // The PNG is in WGS84 bounds; on a GCJ-02 basemap its corners are shifted (the offset varies
    // by only a few metres across one city, far below a 250 m cell).
    var b = grid.bounds;
    var sw = basemaps.toMap(b[0][1], b[0][0]);
    var ne = basemaps.toMap(b[1][1], b[1][0]);
    return L.imageOverlay(grid.png, L.latLngBounds(sw, ne), { opacity: 0.85, interactive: false, className: "wm-grid" });
  }

  function renderLegend() {
    var ul = $("legend");
    ul.textContent = "";
    var legend = app.coverage && app.coverage.grid && app.coverage.grid.legend || [];
    legend.forEach(function (c) {
      var sw = el("span", { class: "sw", "aria-hidden": "true" });
      if (/^#[0-9a-fA-F]{3,8}$/.test(c.color)) { sw.style.background = c.color; }
      var key = "legend_" + c.key;
      var label = WM.cfg.strings[WM.i18n.lang][key] ? t(key) : c.label;
      ul.appendChild(el("li", {}, [sw, label]));
    });
  }

  function gapsLayer(fc) {
    return geo(fc, { color: "#7f0000", weight: 1.5, fillColor: "#7f0000", fillOpacity: 0.12, dashArray: "3 2" }, {
      onEachFeature: function (f, l) {
        var p = f.properties || {};
        var div = el("div", {}, [el("b", { text: "#" + (p.rank || "") + " " + (p.place ? p.place + " · " : "") + (p.district || "") }),
          el("br"), document.createTextNode((p.area_km2 !== undefined ? p.area_km2 + " km² · " : "") + t("d_uncov") + " " + num(p.uncovered_workers))]);
        l.bindPopup(div);
      }
    });
  }

  function sitesLayer(plan) {
    var g = L.layerGroup();
    (plan && plan.sites || []).forEach(function (s) {
      var m = L.marker(basemaps.toMap(s.lon, s.lat), {
        icon: L.divIcon({ className: "wm-hit-icon", html: '<div class="wm-hit k-station"><span>' + Number(s.rank) + "</span></div>",
          iconSize: [28, 28], iconAnchor: [14, 34] }),
        title: "#" + s.rank + " " + (s.district || "")
      });
      m.bindPopup(el("div", {}, [el("b", { text: "#" + s.rank + " " + (s.district || "") }), el("br"),
        document.createTextNode(t("gain") + ": " + num(s.marginal_gain) + " · " + t("cum_pct") + ": " + pct(s.cumulative_pct))]));
      g.addLayer(m);
    });
    return g;
  }

  function facilitiesLayer(fc) {
    var cluster = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false });
    cluster.addLayers(fc.features.map(function (f) {
      var c = f.geometry.coordinates;
      return L.circleMarker(basemaps.toMap(c[0], c[1]), { radius: 5, weight: 1, color: "#fff", fillOpacity: 0.9,
        fillColor: cfg.kind_colours[f.properties.kind] || "#555" });
    }));
    return cluster;
  }

  // -- worker reports (GET /api/v1/reports/layer): open reports at their facilities, sites workers suggest --------
  // Names and labels go in as text (WM.el), never as HTML; the layer carries no report texts.
  function reportKind(k) {
    var label = (cfg.report_kinds || {})[k];
    return label ? label[WM.i18n.lang] : String(k);
  }
  function reportPopup(title, sub, lines) {
    return el("div", { class: "wm-report" }, [el("b", { text: title }), sub ? el("div", { text: sub }) : null,
      el("ul", {}, lines.map(function (line) { return el("li", { text: line }); }))]);
  }
  function reportLayers(fc) {
    var out = { reports: L.layerGroup(), suggestions: L.layerGroup(), n_reports: 0, n_suggestions: 0 };
    var byFacility = {}, order = [];
    (fc && fc.features || []).forEach(function (f) {
      var p = f.properties || {}, c = f.geometry.coordinates, n = Number(p.count) || 0;
      if (p.kind === "new_site") {
        out.n_suggestions += n;
        var m = L.circleMarker(basemaps.toMap(c[0], c[1]), { radius: 6 + Math.min(8, 2 * Math.sqrt(n)), weight: 2,
          color: "#0b3d5c", dashArray: "3 2", fillColor: "#56B4E9", fillOpacity: 0.85 });
        m.bindTooltip(el("span", { text: reportKind("new_site") + " · " + t("n_reports", { n: n }) }));
        m.bindPopup(reportPopup(reportKind("new_site"), null, [t("n_reports", { n: n }), t("latest", { d: String(p.created_at).slice(0, 10) })]));
        out.suggestions.addLayer(m);
        return;
      }
      out.n_reports += n;
      var b = byFacility[p.facility_id];
      if (!b) { b = byFacility[p.facility_id] = { c: c, name: p.name, id: p.facility_id, kinds: [], count: 0, latest: "" }; order.push(p.facility_id); }
      b.kinds.push(p);
      b.count += n;
      if (String(p.created_at) > b.latest) { b.latest = String(p.created_at); }
    });
    order.forEach(function (id) {
      var b = byFacility[id];
      var m = L.circleMarker(basemaps.toMap(b.c[0], b.c[1]), { radius: 6 + Math.min(8, 2 * Math.sqrt(b.count)), weight: 2,
        color: "#7a3b00", fillColor: "#E69F00", fillOpacity: 0.9 });
      m.bindTooltip(el("span", { text: String(b.name || b.id) + " · " + t("n_reports", { n: b.count }) }));  // a node: Leaflet reads a string as HTML
      m.bindPopup(reportPopup(String(b.name || b.id), String(b.id), b.kinds.map(function (p) {
        return reportKind(p.kind) + ": " + t("n_reports", { n: p.count });
      }).concat([t("latest", { d: b.latest.slice(0, 10) })])));
      out.reports.addLayer(m);
    });
    return out;
  }
  function loadReports() {
    body.dataset.reports = "loading";
    return WM.getJSON(urls.reports_layer).then(function (fc) {
      data.reports = fc;
      redraw();
      body.dataset.reports = "ready";
    }).catch(function () { body.dataset.reports = "error"; });
  }
  app.loadReports = loadReports;

  function redraw() {
    if (app.coverage) { place("grid", gridOverlay(app.coverage.grid)); }
    if (app.gaps) { place("gaps", gapsLayer(app.gaps)); }
    if (data.districts) {
      place("boundaries", geo(data.districts, { color: "#12263a", weight: 2, fill: false }, { interactive: false }));
    }
    if (data.facilities && $("l-facilities").checked) { place("facilities", facilitiesLayer(data.facilities)); }
    place("sites", sitesLayer(app.plan));
    if (data.reports) {
      var r = reportLayers(data.reports);
      place("reports", r.reports);
      place("suggestions", r.suggestions);
      $("n-reports").textContent = "(" + r.n_reports + ")";
      $("n-suggestions").textContent = "(" + r.n_suggestions + ")";
    }
  }

  function setDownloads() {
    var q = params();
    $("dl-fac-geojson").href = urls.export + "?format=geojson&layer=facilities";
    $("dl-fac-csv").href = urls.export + "?format=csv&layer=facilities";
    $("dl-dist-geojson").href = urls.export + "?format=geojson&layer=districts";
    var gq = new URLSearchParams(q);
    gq.set("limit", "200");
    $("dl-gaps").href = urls.gaps + "?" + gq.toString();
    $("dl-report").href = urls.report + "?" + planParams().toString();
  }

  // -- coverage ---------------------------------------------------------------------------------------
  var seq = 0;
  function runCoverage() {
    var q = params();
    var mine = ++seq;
    setDownloads();
    body.dataset.coverage = "loading";
    $("coverage-status").textContent = t("loading");
    var gq = new URLSearchParams(q);
    gq.set("limit", "50");
    var cov = WM.getJSON(urls.coverage + "?" + q.toString());
    var gaps = WM.getJSON(urls.gaps + "?" + gq.toString()).catch(function () { return null; });
    var hours = WM.getJSON(urls.coverage_hours + "?" + q.toString()).catch(function () { return null; });
    return Promise.all([cov, gaps, hours]).then(function (r) {
      if (mine !== seq) { return; }
      app.coverage = r[0];
      app.gaps = r[1];
      renderCoverage();
      renderLegend();
      app.hoursRows = r[2];
      renderHours(r[2]);
      redraw();
      $("coverage-status").textContent = "";
      body.dataset.coverage = "ready";
    }).catch(function (err) {
      if (mine !== seq) { return; }
      $("coverage-status").textContent = (err.status === 404 ? t("missing") + " " : t("error")) + err.message;
      $("coverage-status").className = "status error";
      body.dataset.coverage = err.status === 404 ? "missing" : "error";
    });
  }
  $("coverage-form").addEventListener("submit", function (e) { e.preventDefault(); runCoverage(); });

  // -- siting plan ------------------------------------------------------------------------------------
  function renderPlan() {
    var p = app.plan;
    var table = $("sites-table");
    var tb = table.tBodies[0];
    tb.textContent = "";
    $("plan-curve").textContent = "";
    if (!p) { table.hidden = true; return; }
    (p.sites || []).forEach(function (s) {
      tb.appendChild(el("tr", { "data-rank": String(s.rank) }, [el("th", { scope: "row", text: String(s.rank) }),
        el("td", { text: s.district || "" }), el("td", { text: num(s.marginal_gain) }),
        el("td", { text: num(s.cumulative_covered) }), el("td", { text: pct(s.cumulative_pct) })]));
    });
    table.hidden = false;
    var pts = (p.sites || []).map(function (s) { return Number(s.cumulative_pct) || 0; });
    if (pts.length > 1) {  // the gain curve as an inline SVG polyline (numbers only)
      var w = 300, h = 60, lo = Math.min.apply(null, pts), hi = Math.max.apply(null, pts) || 1;
      var d = pts.map(function (v, i) {
        return (i * w / (pts.length - 1)).toFixed(1) + "," + (h - (v - lo) / ((hi - lo) || 1) * (h - 4) - 2).toFixed(1);
      }).join(" ");
      $("plan-curve").innerHTML = '<svg viewBox="0 0 ' + w + " " + h + '" width="' + w + '" height="' + h + '" role="img" aria-label="' +
        t("cum_pct") + '"><polyline fill="none" stroke="currentColor" stroke-width="2" points="' + d + '"/></svg>';
    }
    var fc = { type: "FeatureCollection", features: (p.sites || []).map(function (s) {
      return { type: "Feature", geometry: { type: "Point", coordinates: [s.lon, s.lat] },
        properties: { rank: s.rank, district: s.district, marginal_gain: s.marginal_gain, cumulative_covered: s.cumulative_covered,
          cumulative_pct: s.cumulative_pct } };
    }) };
    var csv = ["rank,lon,lat,district,marginal_gain,cumulative_covered,cumulative_pct"].concat((p.sites || []).map(function (s) {
      var district = String(s.district || "").replace(/"/g, '""');
      if (/^[=+\-@]/.test(district)) { district = "'" + district; }
      return [s.rank, s.lon, s.lat, '"' + district + '"', s.marginal_gain, s.cumulative_covered, s.cumulative_pct].join(",");
    })).join("\r\n");
    ["dl-sites", "dl-sites-csv"].forEach(function (id, i) {
      var a = $(id);
      if (a.href && a.href.indexOf("blob:") === 0) { URL.revokeObjectURL(a.href); }
      a.href = URL.createObjectURL(new Blob([i ? "\ufeff" + csv : JSON.stringify(fc)],
        { type: i ? "text/csv;charset=utf-8" : "application/geo+json" }));
      a.hidden = false;
    });
  }
  function runPlan() {
    var body_ = {};
    planParams().forEach(function (v, k) { body_[k] = /^(add|minutes|min_spacing_m)$/.test(k) ? Number(v) : v; });
    body.dataset.plan = "loading";
    $("plan-status").textContent = t("loading");
    return WM.getJSON(urls.plan, { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body_) }).then(function (p) {
      app.plan = p;
      renderPlan();
      redraw();
      var a = p.assumptions || {};
      $("plan-status").textContent = (p.demand_source ? t("source") + ": " + (typeof p.demand_source === "string" ? p.demand_source : JSON.stringify(p.demand_source)) : "") +
        (a.method ? " · " + a.method : "");
      body.dataset.plan = "ready";
    }).catch(function (err) {
      $("plan-status").textContent = (err.status === 404 ? t("missing") + " " : t("error")) + err.message;
      body.dataset.plan = err.status === 404 ? "missing" : "error";
    });
  }
  $("plan-form").addEventListener("submit", function (e) { e.preventDefault(); setDownloads(); runPlan(); });
  $("plan-form").addEventListener("change", setDownloads);

  $("l-facilities").addEventListener("change", function () {
    if (!$("l-facilities").checked) { return; }
    if (data.facilities) { if (!layers.facilities) { place("facilities", facilitiesLayer(data.facilities)); } return; }
    WM.getJSON(cfg.urls.facilities).then(function (fc) { data.facilities = fc; place("facilities", facilitiesLayer(fc)); });
  });

  // -- language ---------------------------------------------------------------------------------------
  $("lang").addEventListener("click", function () { WM.i18n.set(WM.i18n.lang === "zh" ? "en" : "zh"); });
  WM.i18n.onChange(function () {
    renderCoverage(); renderLegend(); renderPlan(); redraw();
    if (app.hoursRows) { renderHours(app.hoursRows); }
  });
  WM.i18n.apply();

  // -- start ------------------------------------------------------------------------------------------
  setDownloads();
  WM.getJSON(cfg.urls.meta).then(function (m) { $("sample-notice").hidden = !m.sample; }).catch(function () { /* optional */ });
  WM.getJSON(cfg.urls.districts).then(function (fc) {  // the display outlines (exports keep the full ones)
    data.districts = fc;
    var sel = $("c-district");
    fc.features.forEach(function (f) {
      sel.appendChild(el("option", { value: f.properties.adcode, text: f.properties.name }));
    });
    redraw();
  }).catch(function () { /* decoration */ });
  loadReports();
  body.dataset.state = "ready";
  runCoverage();
})();
